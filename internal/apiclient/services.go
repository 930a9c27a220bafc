package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// App is a services app as GET /v2/apps and /v2/apps/{id} show it (the
// part corral's tools read).
type App struct {
	ID        string   `json:"id"`
	Cmd       *string  `json:"cmd"`
	Args      []string `json:"args"`
	Instances int      `json:"instances"`
	CPUs      float64  `json:"cpus"`
	Mem       float64  `json:"mem"`
	Disk      float64  `json:"disk"`
	// Env are the app's plain environment variables, EnvSecrets those
	// whose value is a secret: variable → the name of the app's secret
	// ({"secret": "db"} in the API's JSON).
	Env             map[string]string `json:"env"`
	EnvSecrets      map[string]string `json:"-"`
	Labels          map[string]string `json:"labels"`
	Constraints     [][]string        `json:"constraints"`
	PortDefinitions []PortDefinition  `json:"portDefinitions"`
	HealthChecks    []HealthCheck     `json:"healthChecks"`
	TasksStaged     int               `json:"tasksStaged"`
	TasksRunning    int               `json:"tasksRunning"`
	TasksHealthy    int               `json:"tasksHealthy"`
	TasksUnhealthy  int               `json:"tasksUnhealthy"`
	Deployments     []struct {
		ID string `json:"id"`
	} `json:"deployments"`
	Tasks       []Task `json:"tasks"`
	Version     string `json:"version"`
	VersionInfo *struct {
		LastScalingAt      string `json:"lastScalingAt"`
		LastConfigChangeAt string `json:"lastConfigChangeAt"`
	} `json:"versionInfo"`
	LastTaskFailure *struct {
		State     string `json:"state"`
		Message   string `json:"message"`
		Host      string `json:"host"`
		TaskID    string `json:"taskId"`
		Timestamp string `json:"timestamp"`
	} `json:"lastTaskFailure"`
}

// UnmarshalJSON reads an app, its env values being strings or secret
// references {"secret": "<name>"}.
func (a *App) UnmarshalJSON(b []byte) error {
	type app App
	var raw struct {
		app
		Env map[string]json.RawMessage `json:"env"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*a = App(raw.app)
	a.Env, a.EnvSecrets = nil, nil
	for k, v := range raw.Env {
		var plain string
		if err := json.Unmarshal(v, &plain); err == nil {
			if a.Env == nil {
				a.Env = map[string]string{}
			}
			a.Env[k] = plain
			continue
		}
		var ref struct {
			Secret string `json:"secret"`
		}
		if err := json.Unmarshal(v, &ref); err != nil {
			return fmt.Errorf("env %s: want a string or a secret reference {\"secret\": \"<name>\"}: %w", k, err)
		}
		if a.EnvSecrets == nil {
			a.EnvSecrets = map[string]string{}
		}
		a.EnvSecrets[k] = ref.Secret
	}
	return nil
}

// Command is the app's command line: cmd, or args joined.
func (a *App) Command() string {
	if a.Cmd != nil {
		return *a.Cmd
	}
	return strings.Join(a.Args, " ")
}

// PortDefinition is one of an app's ports.
type PortDefinition struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Name     string `json:"name"`
}

// HealthCheck is one of an app's health checks.
type HealthCheck struct {
	Protocol  string `json:"protocol"`
	Path      string `json:"path"`
	PortIndex *int   `json:"portIndex"`
	Port      *int   `json:"port"`
	Command   *struct {
		Value string `json:"value"`
	} `json:"command"`
	GracePeriodSeconds     int `json:"gracePeriodSeconds"`
	IntervalSeconds        int `json:"intervalSeconds"`
	TimeoutSeconds         int `json:"timeoutSeconds"`
	MaxConsecutiveFailures int `json:"maxConsecutiveFailures"`
}

// Task is a task as the services API shows it.
type Task struct {
	ID                 string   `json:"id"`
	AppID              string   `json:"appId"`
	Host               string   `json:"host"`
	SlaveID            string   `json:"slaveId"`
	State              string   `json:"state"`
	StagedAt           string   `json:"stagedAt"`
	StartedAt          *string  `json:"startedAt"`
	Version            string   `json:"version"`
	Ports              []uint64 `json:"ports"`
	HealthCheckResults []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
}

// Healthy is nil while no health check has an opinion, else whether all
// of them find the task alive.
func (t Task) Healthy() *bool {
	if len(t.HealthCheckResults) == 0 {
		return nil
	}
	alive := true
	for _, h := range t.HealthCheckResults {
		alive = alive && h.Alive
	}
	return &alive
}

// Deployment is one entry of GET /v2/deployments, or of its history
// (DeploymentHistory).
type Deployment struct {
	ID           string   `json:"id"`
	Version      string   `json:"version"`
	AffectedApps []string `json:"affectedApps"`
	// Status is, in the history, running, succeeded, failed, cancelled
	// (by a forced change or a rollback) or stopped (with force=true);
	// "" in the list of running deployments.
	Status string `json:"status"`
	// Reason says why a deployment failed or was cancelled; FinishedAt
	// is when it ended.
	Reason     string `json:"reason"`
	FinishedAt string `json:"finishedAt"`
	// Failure says how a failed deployment failed (its kind:
	// progressDeadline or crashLoop).
	Failure *struct {
		Kind string `json:"kind"`
	} `json:"failure"`
	// RollbackDeploymentID is the deployment that rolls back a failed
	// one; RollbackOf, in that one, the failed deployment.
	RollbackDeploymentID string `json:"rollbackDeploymentId"`
	RollbackOf           string `json:"rollbackOf"`
	CurrentActions       []struct {
		Action string `json:"action"`
		App    string `json:"app"`
		// Waiting says why the app is not at its target yet.
		Waiting string `json:"waiting"`
		// Unplaced says, per agent whose offer could not take an
		// instance, why not.
		Unplaced []Unplaced `json:"unplaced"`
	} `json:"currentActions"`
}

// Running reports whether the deployment has not ended.
func (d Deployment) Running() bool { return d.Status == "" || d.Status == "running" }

// Unplaced is why an agent's offer took no instance of an app.
type Unplaced struct {
	AgentID  string   `json:"agentId"`
	Hostname string   `json:"hostname"`
	Reasons  []string `json:"reasons"`
	At       string   `json:"at"`
}

// Change is the answer to a change of apps: the deployment it started
// (one that has already ended when nothing changed: its version is then
// the app's current one) and what the API ignored in the request.
type Change struct {
	DeploymentID string   `json:"deploymentId"`
	Version      string   `json:"version"`
	Warnings     []string `json:"warnings"`
}

// Services is the client of the services API (Marathon's /v2).
type Services struct{ *Client }

// NewServices returns the client of the services API at base.
func NewServices(base string, hc *http.Client) Services {
	return Services{New("services", base, hc)}
}

// AppPath is the API path of an app id ("/v2/apps/group/app").
func AppPath(id string) string {
	return "/v2/apps/" + strings.Trim(id, "/")
}

func force(path string, force bool) string {
	return path + "?force=" + strconv.FormatBool(force)
}

// App returns the app id; a missing one is an *Error with status 404.
func (s Services) App(ctx context.Context, id string) (App, error) {
	var body struct {
		App App `json:"app"`
	}
	err := s.GetJSON(ctx, AppPath(id), &body)
	return body.App, err
}

// Apps returns every app with its tasks.
func (s Services) Apps(ctx context.Context) ([]App, error) {
	var body struct {
		Apps []App `json:"apps"`
	}
	err := s.GetJSON(ctx, "/v2/apps?embed=apps.tasks", &body)
	return body.Apps, err
}

// Deployments returns the deployments in progress.
func (s Services) Deployments(ctx context.Context) ([]Deployment, error) {
	var out []Deployment
	err := s.GetJSON(ctx, "/v2/deployments", &out)
	return out, err
}

// DeploymentHistory returns the running deployments, then the ended ones
// the services API remembers, newest first. An API without a history
// answers the running ones only.
func (s Services) DeploymentHistory(ctx context.Context) ([]Deployment, error) {
	var out []Deployment
	err := s.GetJSON(ctx, "/v2/deployments?history=true", &out)
	return out, err
}

// Tasks returns every task of every app.
func (s Services) Tasks(ctx context.Context) ([]Task, error) {
	var body struct {
		Tasks []Task `json:"tasks"`
	}
	err := s.GetJSON(ctx, "/v2/tasks", &body)
	return body.Tasks, err
}

// CreateApp creates an app from def (any JSON value, or its bytes) and
// returns it as the API answered (POST /v2/apps) with the deployment id.
func (s Services) CreateApp(ctx context.Context, def any, forced bool) (App, Change, error) {
	resp, err := s.Do(ctx, http.MethodPost, force("/v2/apps", forced), def)
	if err != nil {
		return App{}, Change{}, err
	}
	var a App
	var ch Change
	if err := s.Decode("/v2/apps", resp.Body, &a); err != nil {
		return App{}, Change{}, err
	}
	_ = json.Unmarshal(resp.Body, &ch)
	ch.DeploymentID, ch.Version = resp.Header.Get("Marathon-Deployment-Id"), a.Version
	return a, ch, nil
}

// change sends one change of an app and reads its {deploymentId, version}.
func (s Services) change(ctx context.Context, method, path string, body any) (Change, error) {
	resp, err := s.Do(ctx, method, path, body)
	if err != nil {
		return Change{}, err
	}
	var ch Change
	if err := s.Decode(path, resp.Body, &ch); err != nil {
		return Change{}, err
	}
	if ch.DeploymentID == "" {
		ch.DeploymentID = resp.Header.Get("Marathon-Deployment-Id")
	}
	return ch, nil
}

// ReplaceApp makes def the definition of app id (PUT, partialUpdate=false;
// a missing app is created, as Marathon does).
func (s Services) ReplaceApp(ctx context.Context, id string, def any, forced bool) (Change, error) {
	return s.change(ctx, http.MethodPut, force(AppPath(id), forced)+"&partialUpdate=false", def)
}

// UpdateApp merges patch into app id (PUT, as Marathon's classic clients
// do; a missing app is created from patch).
func (s Services) UpdateApp(ctx context.Context, id string, patch any, forced bool) (Change, error) {
	return s.change(ctx, http.MethodPut, force(AppPath(id), forced), patch)
}

// PatchApp merges patch into the existing app id (PATCH; a missing app is
// an *Error with status 404).
func (s Services) PatchApp(ctx context.Context, id string, patch any, forced bool) (Change, error) {
	return s.change(ctx, http.MethodPatch, force(AppPath(id), forced), patch)
}

// Scale sets the instances of the existing app id.
func (s Services) Scale(ctx context.Context, id string, instances int, forced bool) (Change, error) {
	return s.PatchApp(ctx, id, map[string]int{"instances": instances}, forced)
}

// RestartApp replaces all the app's tasks (a rolling restart).
func (s Services) RestartApp(ctx context.Context, id string, forced bool) (Change, error) {
	return s.change(ctx, http.MethodPost, force(AppPath(id)+"/restart", forced), nil)
}

// DeleteApp stops the app's tasks and removes it.
func (s Services) DeleteApp(ctx context.Context, id string) (Change, error) {
	return s.change(ctx, http.MethodDelete, force(AppPath(id), true), nil)
}

// Leader is GET /v2/leader: the leading instance's host:port.
func (s Services) Leader(ctx context.Context) (string, error) {
	var body struct {
		Leader string `json:"leader"`
	}
	err := s.GetJSON(ctx, "/v2/leader", &body)
	return body.Leader, err
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"corral/internal/apiclient"
)

// appView is a services app as the verbs read it.
type appView = apiclient.App

type healthCheckView = apiclient.HealthCheck

// appStatus is the word `app list` shows for an app.
func appStatus(a appView) string {
	switch {
	case len(a.Deployments) > 0:
		return "deploying"
	case a.Instances == 0:
		return "suspended"
	case a.TasksRunning < a.Instances || (len(a.HealthChecks) > 0 && a.TasksHealthy < a.Instances):
		return "waiting"
	}
	return "running"
}

const waitFlagsAbout = `Unless --detach, the verb waits until the deployment is gone and the
app is at its target (instances running, and healthy when it has
health checks), printing a progress line whenever the counts change,
such as "/web: instances running 1/3, healthy 0/3". It exits 1 when the
deployment fails (no progress for the app's
upgradeStrategy.progressDeadlineSeconds, or its new instances crash in a
row), printing the services API's reason and the deployment that rolls
it back if the app asks for autoRollback; when the deployment is
replaced (a forced change, a rollback); when the app is deleted
meanwhile; or after --timeout, saying what is still missing, while the
deployment itself carries on.`

const changeJSONDoc = `print {"app", "deploymentId", "version", "status"} on stdout ` +
	`(status "started" with --detach, else "finished"); progress lines go to stderr`

// waitFlags registers --detach and --timeout.
func waitFlags(fs *flag.FlagSet) (detach *bool, timeout *time.Duration) {
	detach = fs.Bool("detach", false, "return as soon as the API accepted the change, printing the deployment id")
	timeout = fs.Duration("timeout", 5*time.Minute, "give up waiting after this long and exit 1")
	return
}

func appVerbs() []*verb {
	return []*verb{
		{
			watchable: true, group: "app", name: "list", summary: "list the services framework's apps",
			about: `One row per app, sorted by id: instances wanted, running and healthy
("-" without health checks), resources per instance, status (deploying,
suspended, waiting, running) and version.`,
			uses: useServices, maxArgs: 0,
			jsonDoc: "print the API's answer to GET /v2/apps",
			setup:   func(fs *flag.FlagSet) func(context.Context, *runner) error { return appList },
		},
		{
			group: "app", name: "show", args: "ID", minArgs: 1, maxArgs: 1,
			summary: "show an app's definition, state and tasks",
			uses:    useServices,
			jsonDoc: "print the API's answer to GET /v2/apps/ID",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return func(ctx context.Context, r *runner) error { return appShow(ctx, r, r.args[0]) }
			},
		},
		{
			group: "app", name: "deploy", args: "FILE", minArgs: 1, maxArgs: 1,
			summary: "create or update an app from a JSON definition",
			about: `FILE (or - for stdin) holds one Marathon app definition. A new app is
created with POST /v2/apps; an existing one is replaced with PUT
/v2/apps/ID?partialUpdate=false, so fields left out of FILE take their
defaults. Validation errors are printed one per line, naming the field.

` + waitFlagsAbout,
			uses: useServices | useMaster, jsonDoc: changeJSONDoc,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				force := fs.Bool("force", false, "override the deployments that hold the app (they are cancelled)")
				detach, timeout := waitFlags(fs)
				return func(ctx context.Context, r *runner) error {
					return appDeploy(ctx, r, r.args[0], *force, *detach, *timeout)
				}
			},
		},
		{
			group: "app", name: "scale", args: "ID N", minArgs: 2, maxArgs: 2,
			summary: "set the number of instances of an app",
			about: "Sends PATCH /v2/apps/ID with {\"instances\": N}; nothing else changes. An app that\n" +
				"does not exist is not created (exit 3), and an app that already has N\ninstances is left alone (\"unchanged\").\n\n" + waitFlagsAbout,
			uses: useServices, jsonDoc: changeJSONDoc,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				force := fs.Bool("force", false, "override the deployments that hold the app (they are cancelled)")
				detach, timeout := waitFlags(fs)
				return func(ctx context.Context, r *runner) error {
					n, err := strconv.Atoi(r.args[1])
					if err != nil || n < 0 {
						return usagef("N must be a whole number of instances, 0 or more (got %q)", r.args[1])
					}
					return appScale(ctx, r, canonicalApp(r.args[0]), n, *force, *detach, *timeout)
				}
			},
		},
		{
			group: "app", name: "restart", args: "ID", minArgs: 1, maxArgs: 1,
			summary: "replace all of an app's tasks with new ones (a rolling restart)",
			about:   "Sends POST /v2/apps/ID/restart; the app's upgradeStrategy applies.\n\n" + waitFlagsAbout,
			uses:    useServices, jsonDoc: changeJSONDoc,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				force := fs.Bool("force", false, "override the deployments that hold the app (they are cancelled)")
				detach, timeout := waitFlags(fs)
				return func(ctx context.Context, r *runner) error {
					return appChange(ctx, r, canonicalApp(r.args[0]), "restart", "", *force, *detach, *timeout, func(ctx context.Context, path string) (*response, error) {
						return r.services.do(ctx, http.MethodPost, strings.Replace(path, "?", "/restart?", 1), nil)
					})
				}
			},
		},
		{
			group: "app", name: "rollback", args: "ID [VERSION]", minArgs: 1, maxArgs: 2,
			summary: "deploy an earlier version of an app again",
			about: "Reads the app's stored VERSION (GET /v2/apps/ID/versions/VERSION; without\n" +
				"VERSION, the one before the current) and deploys it as the app's new\n" +
				"definition (PUT /v2/apps/ID), as a deploy of that file would; 'corral app\n" +
				"versions ID' lists them.\n\n" + waitFlagsAbout,
			uses: useServices, jsonDoc: changeJSONDoc,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				force := fs.Bool("force", false, "override the deployments that hold the app (they are cancelled)")
				detach, timeout := waitFlags(fs)
				return func(ctx context.Context, r *runner) error {
					version := ""
					if len(r.args) > 1 {
						version = r.args[1]
					}
					return appRollback(ctx, r, canonicalApp(r.args[0]), version, *force, *detach, *timeout)
				}
			},
		},
		{
			group: "app", name: "delete", args: "ID", minArgs: 1, maxArgs: 1,
			summary: "stop all of an app's tasks and remove the app",
			about: `Sends DELETE /v2/apps/ID (which overrides deployments holding the
app, as Marathon does). Unless --detach, waits until the app is gone.`,
			uses: useServices, jsonDoc: changeJSONDoc,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				detach, timeout := waitFlags(fs)
				return func(ctx context.Context, r *runner) error {
					return appChange(ctx, r, canonicalApp(r.args[0]), "delete", "", true, *detach, *timeout, func(ctx context.Context, path string) (*response, error) {
						return r.services.do(ctx, http.MethodDelete, path, nil)
					})
				}
			},
		},
		{
			group: "app", name: "versions", args: "ID [VERSION]", minArgs: 1, maxArgs: 2,
			summary: "list an app's stored versions, or print one of them",
			about: `Without VERSION: the app's versions, newest first, marking the
current one. With VERSION: that version's definition as JSON (a file
"corral app deploy" accepts).`,
			uses: useServices, jsonDoc: "print the API's answer to GET /v2/apps/ID/versions",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return appVersions
			},
		},
	}
}

// --- list, show, versions ----------------------------------------------------

// appTable renders `app list` (pure).
func appTable(apps []appView) string {
	sort.Slice(apps, func(i, j int) bool { return apps[i].ID < apps[j].ID })
	t := newTable("ID", "INSTANCES", "RUNNING", "HEALTHY", "CPUS", "MEM", "STATUS", "VERSION")
	for _, a := range apps {
		healthy := ""
		if len(a.HealthChecks) > 0 {
			healthy = fmt.Sprint(a.TasksHealthy)
		}
		t.add(a.ID, fmt.Sprint(a.Instances), fmt.Sprint(a.TasksRunning), healthy, num(a.CPUs), num(a.Mem), appStatus(a), a.Version)
	}
	return t.String()
}

func appList(ctx context.Context, r *runner) error {
	resp, err := r.services.do(ctx, http.MethodGet, "/v2/apps", nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var body struct {
		Apps []appView `json:"apps"`
	}
	if err := decode("services", "/v2/apps", resp.Body, &body); err != nil {
		return err
	}
	_, err = io.WriteString(r.out, appTable(body.Apps))
	return err
}

func healthCheckText(h healthCheckView) string {
	var b strings.Builder
	b.WriteString(h.Protocol)
	switch {
	case h.Command != nil:
		b.WriteString(" `" + h.Command.Value + "`")
	case h.Port != nil:
		b.WriteString(fmt.Sprintf(" %s on port %d", h.Path, *h.Port))
	case h.PortIndex != nil:
		b.WriteString(fmt.Sprintf(" %s on port index %d", h.Path, *h.PortIndex))
	}
	fmt.Fprintf(&b, ", every %ds, grace %ds, timeout %ds", h.IntervalSeconds, h.GracePeriodSeconds, h.TimeoutSeconds)
	if h.MaxConsecutiveFailures > 0 {
		fmt.Fprintf(&b, ", killed after %d failures", h.MaxConsecutiveFailures)
	}
	return strings.ReplaceAll(b.String(), "  ", " ")
}

func sortedPairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// renderApp is the text of `app show` (pure); unplaced are the agents'
// reasons for refusing its waiting instances, "host: reason" lines.
func renderApp(a appView, unplaced []string) string {
	var k kv
	k.add("ID", a.ID)
	k.add("Command", a.Command())
	counts := fmt.Sprintf("%d (running %d, staged %d", a.Instances, a.TasksRunning, a.TasksStaged)
	if len(a.HealthChecks) > 0 {
		counts += fmt.Sprintf(", healthy %d, unhealthy %d", a.TasksHealthy, a.TasksUnhealthy)
	}
	k.add("Instances", counts+")")
	k.add("Status", appStatus(a))
	k.add("Resources", fmt.Sprintf("cpus %s, mem %s MB, disk %s MB", num(a.CPUs), num(a.Mem), num(a.Disk)))
	var ports []string
	for _, p := range a.PortDefinitions {
		s := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.Port == 0 {
			s = "dynamic/" + p.Protocol // each task gets a host port at launch
		}
		if p.Name != "" {
			s += " (" + p.Name + ")"
		}
		ports = append(ports, s)
	}
	k.add("Ports", strings.Join(ports, ", "))
	var hcs []string
	for _, h := range a.HealthChecks {
		hcs = append(hcs, healthCheckText(h))
	}
	k.add("Health checks", strings.Join(hcs, "\n"))
	var cons []string
	for _, c := range a.Constraints {
		cons = append(cons, strings.Join(c, " "))
	}
	if len(cons) > 0 {
		k.add("Constraints", strings.Join(cons, ", "))
	}
	if len(a.Labels) > 0 {
		k.add("Labels", sortedPairs(a.Labels))
	}
	if len(a.Env)+len(a.EnvSecrets) > 0 {
		env := maps.Clone(a.Env)
		if env == nil {
			env = map[string]string{}
		}
		for name, secret := range a.EnvSecrets {
			env[name] = "(secret " + secret + ")"
		}
		k.add("Env", sortedPairs(env))
	}
	k.add("Version", a.Version)
	var deps []string
	for _, d := range a.Deployments {
		deps = append(deps, d.ID)
	}
	if len(deps) == 0 {
		deps = []string{"none"}
	}
	k.add("Deployments", strings.Join(deps, ", "))
	if len(unplaced) > 0 {
		k.add("Not placed", "the last offers of each agent did not fit:\n"+strings.Join(unplaced, "\n"))
	}
	if f := a.LastTaskFailure; f != nil {
		k.add("Last failure", fmt.Sprintf("%s of %s on %s at %s: %s", f.State, f.TaskID, f.Host, stamp(f.Timestamp), f.Message))
	}
	var b strings.Builder
	b.WriteString(k.String())
	b.WriteString("\n")
	b.WriteString(appTaskTable(a.Tasks))
	return b.String()
}

// appTaskTable renders an app's tasks, oldest first as the API lists them.
func appTaskTable(tasks []servicesTask) string {
	t := newTable("TASK", "STATE", "HEALTH", "HOST", "PORTS", "STARTED", "VERSION")
	for _, x := range tasks {
		t.add(x.ID, x.State, healthText(x.Healthy()), x.Host, taskPorts(x), stampPtr(x.StartedAt), x.Version)
	}
	return t.String()
}

// getApp GETs an app; found is false on 404.
func (r *runner) getApp(ctx context.Context, id string) (app *appView, found bool, err error) {
	var body struct {
		App appView `json:"app"`
	}
	err = r.services.getJSON(ctx, appPath(id), &body)
	if isStatus(err, http.StatusNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &body.App, true, nil
}

func appShow(ctx context.Context, r *runner, id string) error {
	id = canonicalApp(id)
	resp, err := r.services.do(ctx, http.MethodGet, appPath(id), nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var body struct {
		App appView `json:"app"`
	}
	if err := decode("services", appPath(id), resp.Body, &body); err != nil {
		return err
	}
	_, err = io.WriteString(r.out, renderApp(body.App, r.unplacedReasons(ctx, id)))
	return err
}

func appVersions(ctx context.Context, r *runner) error {
	id := canonicalApp(r.args[0])
	if len(r.args) == 2 {
		resp, err := r.services.do(ctx, http.MethodGet, appPath(id)+"/versions/"+r.args[1], nil)
		if err != nil {
			return err
		}
		return indentJSON(r.out, resp.Body)
	}
	resp, err := r.services.do(ctx, http.MethodGet, appPath(id)+"/versions", nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var body struct {
		Versions []string `json:"versions"`
	}
	if err := decode("services", appPath(id)+"/versions", resp.Body, &body); err != nil {
		return err
	}
	current := ""
	if a, ok, err := r.getApp(ctx, id); err == nil && ok {
		current = a.Version
	}
	_, err = io.WriteString(r.out, versionTable(body.Versions, current))
	return err
}

// versionTable renders `app versions` (pure).
func versionTable(versions []string, current string) string {
	t := newTable("VERSION", "CURRENT")
	for _, v := range versions {
		mark := ""
		if v == current {
			mark = "yes"
		}
		t.add(v, mark)
	}
	return t.String()
}

// --- deploy, scale, restart, delete ------------------------------------------

// changeResult is the --json output of the verbs that start a deployment.
type changeResult struct {
	App          string `json:"app"`
	DeploymentID string `json:"deploymentId"`
	Version      string `json:"version"`
	Status       string `json:"status"`
}

// readInput reads FILE, or stdin for "-".
func (r *runner) readInput(file string) ([]byte, error) {
	if file == "-" {
		b, err := io.ReadAll(r.stdin)
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("cannot read %s: %v", file, err)
	}
	return b, nil
}

func appDeploy(ctx context.Context, r *runner, file string, force, detach bool, timeout time.Duration) error {
	orig, err := r.readInput(file)
	if err != nil {
		return err
	}
	body := bytes.TrimSpace(orig)
	lead := int64(len(orig) - len(bytes.TrimLeft(orig, " \t\r\n")))
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		if len(body) > 0 && body[0] == '[' {
			return failf("%s holds a JSON array; app deploy takes one app definition (an object)%s", displayName(file), jobsHint(body, file))
		}
		return failf("%s does not hold one app definition (a JSON object): %v", displayName(file), jsonError(orig, lead, err))
	}
	if kindOf(probe) == "job" {
		return failf("%s holds a job, not an app definition (it has no \"id\" but has %s): add it with 'corral job add %s'", displayName(file), presentKeys(probe, jobKeys), file)
	}
	var rawID string
	_ = json.Unmarshal(probe["id"], &rawID)
	q := "?force=" + strconv.FormatBool(force)
	if rawID == "" {
		// The API names what is missing.
		_, err := r.services.do(ctx, http.MethodPost, "/v2/apps"+q, body)
		if err == nil {
			err = failf("the services API accepted an app without an id")
		}
		return err
	}
	id := canonicalApp(rawID)
	cur, exists, err := r.getApp(ctx, id)
	if err != nil {
		return err
	}
	var res changeResult
	res.App = id
	verb := "updating"
	if !exists {
		resp, err := r.services.do(ctx, http.MethodPost, "/v2/apps"+q, body)
		switch {
		case err == nil:
			verb = "creating"
			printWarnings(r.errw, "", resp.Body)
			res.DeploymentID = resp.Header.Get("Marathon-Deployment-Id")
			var created struct {
				Version string `json:"version"`
			}
			_ = json.Unmarshal(resp.Body, &created)
			res.Version = created.Version
		case isStatus(err, http.StatusConflict):
			// Created meanwhile, or still being deleted: PUT replaces it,
			// or says which deployments hold it (and honours --force).
			exists = true
		default:
			return fmt.Errorf("creating %s: %w", id, err)
		}
	}
	if exists {
		resp, err := r.services.do(ctx, http.MethodPut, appPath(id)+q+"&partialUpdate=false", body)
		if err != nil {
			return fmt.Errorf("updating %s: %w", id, err)
		}
		printWarnings(r.errw, "", resp.Body)
		if err := readDeploymentResult(resp, &res); err != nil {
			return err
		}
		if cur != nil && res.Version == cur.Version {
			return r.unchanged(res)
		}
	}
	r.warnUnfit(ctx, id)
	return r.followChange(ctx, res, verb, false, detach, timeout)
}

// warnUnfit warns on stderr when no agent the master knows is large
// enough for one instance of app id as the services API stored it, so
// that a definition that can never run is told at once rather than as a
// deployment waiting for ever. A master that cannot be asked is passed
// over: the deploy does not need it.
func (r *runner) warnUnfit(ctx context.Context, id string) {
	if r.master == nil {
		return
	}
	app, found, err := r.getApp(ctx, id)
	if err != nil || !found {
		return
	}
	st, _, err := r.fetchState(ctx)
	if err != nil || len(st.Agents) == 0 {
		return
	}
	if msg := unfit(*app, st.Agents); msg != "" {
		fmt.Fprintf(r.errw, "warning: %s\n", msg)
	}
}

// unfit says why no agent among agents can hold one instance of app, by
// the agents' whole resources; "" when one can (pure).
func unfit(app appView, agents []apiclient.Agent) string {
	needs := []struct {
		name, unit string
		v          float64
	}{{"cpus", "", app.CPUs}, {"mem", " MB", app.Mem}, {"disk", " MB", app.Disk}}
	largest := map[string]float64{}
	for _, a := range agents {
		fits := true
		for _, n := range needs {
			have := a.Resources.Scalar(n.name)
			largest[n.name] = max(largest[n.name], have)
			if n.v > have {
				fits = false
			}
		}
		if fits {
			return ""
		}
	}
	var short []string
	for _, n := range needs {
		if n.v > largest[n.name] {
			short = append(short, fmt.Sprintf("%s %s%s (the largest agent has %s)", n.name, num(n.v), n.unit, num(largest[n.name])))
		}
	}
	if len(short) == 0 {
		short = append(short, "its cpus, mem and disk together (each fits some agent, none fits all)")
	}
	return fmt.Sprintf("no agent can ever run an instance of %s as defined: it needs %s; it will wait until a large enough agent registers",
		app.ID, strings.Join(short, ", "))
}

// appScale sets an existing app's instances with PATCH, which never
// creates an app (a PUT to a missing app would make one from {"instances"}).
func appScale(ctx context.Context, r *runner, id string, n int, force, detach bool, timeout time.Duration) error {
	cur, found, err := r.getApp(ctx, id)
	if err != nil {
		return err
	}
	if !found {
		return notFoundf("app %s does not exist", id)
	}
	return appChange(ctx, r, id, "scale", cur.Version, force, detach, timeout, func(ctx context.Context, path string) (*response, error) {
		return r.services.do(ctx, http.MethodPatch, path, map[string]int{"instances": n})
	})
}

// unchanged reports an accepted change that changed nothing: the services
// API started no deployment and touched no task.
func (r *runner) unchanged(res changeResult) error {
	fmt.Fprintf(r.progress(), "%s unchanged (version %s)\n", res.App, res.Version)
	if r.json {
		res.Status = "unchanged"
		return writeJSON(r.out, res)
	}
	return nil
}

// appChange sends a change to an existing app (call gets the app's path
// with the force query) and follows its deployment. before is the app's
// version before the change, if known: the services API answers a change
// that changes nothing with that version and starts no deployment.
func appChange(ctx context.Context, r *runner, id, what, before string, force, detach bool, timeout time.Duration,
	call func(ctx context.Context, path string) (*response, error)) error {
	resp, err := call(ctx, appPath(id)+"?force="+strconv.FormatBool(force))
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return notFoundf("app %s does not exist", id)
		}
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	res := changeResult{App: id}
	if err := readDeploymentResult(resp, &res); err != nil {
		return err
	}
	if res.Version == before && before != "" {
		return r.unchanged(res)
	}
	verbs := map[string]string{"scale": "scaling", "restart": "restarting", "delete": "deleting"}
	return r.followChange(ctx, res, verbs[what], what == "delete", detach, timeout)
}

// appRollback deploys the stored version of app id again: version, or
// the one before the current.
func appRollback(ctx context.Context, r *runner, id, version string, force, detach bool, timeout time.Duration) error {
	cur, exists, err := r.getApp(ctx, id)
	if err != nil {
		return err
	}
	if !exists {
		return notFoundf("app %s does not exist", id)
	}
	if version == "" {
		resp, err := r.services.do(ctx, http.MethodGet, appPath(id)+"/versions", nil)
		if err != nil {
			return err
		}
		var body struct {
			Versions []string `json:"versions"`
		}
		if err := decode("services", appPath(id)+"/versions", resp.Body, &body); err != nil {
			return err
		}
		// Newest first: the one after the current.
		if i := slices.Index(body.Versions, cur.Version); i >= 0 && i+1 < len(body.Versions) {
			version = body.Versions[i+1]
		}
		if version == "" {
			return failf("app %s has no version before its current one (%s)", id, cur.Version)
		}
	}
	if version == cur.Version {
		return failf("version %s is the current one of app %s; 'corral app versions %s' lists the others", version, id, id)
	}
	path := appPath(id) + "/versions/" + url.PathEscape(version)
	resp, err := r.services.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return notFoundf("app %s has no version %s; 'corral app versions %s' lists them", id, version, id)
		}
		return err
	}
	var def map[string]json.RawMessage
	if err := decode("services", path, resp.Body, &def); err != nil {
		return err
	}
	// What the API adds to a stored version, not part of a definition.
	for _, k := range []string{"version", "versionInfo", "tasks", "tasksRunning", "tasksStaged", "tasksHealthy", "tasksUnhealthy", "deployments", "lastTaskFailure"} {
		delete(def, k)
	}
	fmt.Fprintf(r.progress(), "Rolling %s back to version %s\n", id, version)
	resp, err = r.services.do(ctx, http.MethodPut, appPath(id)+"?force="+strconv.FormatBool(force)+"&partialUpdate=false", def)
	if err != nil {
		return fmt.Errorf("rolling %s back: %w", id, err)
	}
	printWarnings(r.errw, "", resp.Body)
	res := changeResult{App: id}
	if err := readDeploymentResult(resp, &res); err != nil {
		return err
	}
	return r.followChange(ctx, res, "rolling back", false, detach, timeout)
}

// readDeploymentResult reads {"deploymentId", "version"}.
func readDeploymentResult(resp *response, res *changeResult) error {
	var d struct {
		DeploymentID string `json:"deploymentId"`
		Version      string `json:"version"`
	}
	if err := decode("services", "the change", resp.Body, &d); err != nil {
		return err
	}
	res.DeploymentID, res.Version = d.DeploymentID, d.Version
	if res.DeploymentID == "" {
		res.DeploymentID = resp.Header.Get("Marathon-Deployment-Id")
	}
	return nil
}

func displayName(file string) string {
	if file == "-" {
		return "stdin"
	}
	return file
}

// followChange reports the accepted change and, unless detach, waits for
// its deployment.
func (r *runner) followChange(ctx context.Context, res changeResult, verb string, deleting, detach bool, timeout time.Duration) error {
	fmt.Fprintf(r.progress(), "%s %s: deployment %s (version %s)\n", upperFirst(verb), res.App, res.DeploymentID, res.Version)
	if detach {
		res.Status = "started"
		if r.json {
			return writeJSON(r.out, res)
		}
		return nil
	}
	if err := r.waitDeployment(ctx, target{app: res.App, deployment: res.DeploymentID, version: res.Version, deleting: deleting}, timeout); err != nil {
		return err
	}
	res.Status = "finished"
	if r.json {
		return writeJSON(r.out, res)
	}
	return nil
}

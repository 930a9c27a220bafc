package testcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"corral/kernel/mesos"
)

// FrameworkIDByName waits until the leading master's /state lists an
// active framework called name and returns its id: what any client of
// the master can read.
func (c *Cluster) FrameworkIDByName(name string) string {
	c.tb.Helper()
	var id string
	Eventually(c.tb, 60*time.Second, func() bool {
		for _, f := range c.State().Frameworks {
			if f.Name == name && f.Active {
				id = f.ID
				return true
			}
		}
		return false
	}, "an active framework named %q in /state", name)
	return id
}

// TeardownAsStranger removes a framework the way any client of the
// scheduler API can while it authenticates nobody: it SUBSCRIBEs with
// the framework's id (the master fails the framework over to it) and
// sends TEARDOWN on that subscription. The rightful scheduler may take
// the framework back between the two calls, so the pair is repeated
// until the master accepts the TEARDOWN.
func (c *Cluster) TeardownAsStranger(frameworkID string) {
	c.tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := teardownOnce(c.tb, c.leaderBase(), frameworkID)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("the master refused a stranger's TEARDOWN of %s for 60s; last: %v", frameworkID, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// leaderBase is the URL of the master that leads.
func (c *Cluster) leaderBase() string {
	if len(c.MasterURLs) > 1 {
		return c.LeaderURL()
	}
	return c.URL
}

func teardownOnce(tb testing.TB, base, frameworkID string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := &mesos.ID{Value: frameworkID}
	sub, err := json.Marshal(&mesos.Call{Type: mesos.CallSubscribe, FrameworkID: id, Subscribe: &mesos.Subscribe{
		FrameworkInfo: mesos.FrameworkInfo{ID: id, Name: "stranger", User: "nobody"}}})
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/scheduler", bytes.NewReader(sub))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	// The stream stays open until the TEARDOWN closes it.
	defer resp.Body.Close()
	stream := resp.Header.Get("Mesos-Stream-Id")
	if resp.StatusCode != http.StatusOK || stream == "" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("SUBSCRIBE = %d, stream %q: %s", resp.StatusCode, stream, b)
	}
	td, _ := json.Marshal(&mesos.Call{Type: mesos.CallTeardown, FrameworkID: id})
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/scheduler", bytes.NewReader(td))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Mesos-Stream-Id", stream)
	tresp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer tresp.Body.Close()
	if tresp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(io.LimitReader(tresp.Body, 4<<10))
		return fmt.Errorf("TEARDOWN = %d: %s", tresp.StatusCode, b)
	}
	return nil
}

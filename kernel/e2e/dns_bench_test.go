package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// BenchmarkDNS measures the master's DNS (--dns_listen) from outside, as
// a resolver sees it, against a real master process on loopback:
//
//   - query: SRV questions over UDP from GOMAXPROCS clients; queries/s
//     and the time per question.
//   - follow: a task is launched and, once its framework has its
//     TASK_RUNNING, its name is asked for every millisecond until it
//     resolves (ms-to-resolve); then it is killed and asked for until it
//     no longer does (ms-to-forget). Reported, not asserted: the master
//     rebuilds its records within 250 ms of a change.
func BenchmarkDNS(b *testing.B) {
	addr := freeDNSAddr(b)
	c := testcluster.Start(b, testcluster.Options{Agents: 1, MasterArgs: []string{"--dns_listen", addr}})
	f := startFramework(b, c.URL, plainInfo("bench"))
	f.launch(portTask("web-0", "web", 31000))
	f.waitState("web-0", 30*time.Second, mesos.TaskRunning)
	waitDNS(b, addr, "_web._tcp.bench.mesos", dns.TypeSRV, func(s string) bool { return s != "" && s != "NXDOMAIN" }, "the SRV of web")

	b.Run("query", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			conn, err := cl.Dial(addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			q := new(dns.Msg).SetQuestion("_web._tcp.bench.mesos.", dns.TypeSRV)
			for pb.Next() {
				if in, _, err := cl.ExchangeWithConn(q, conn); err != nil || len(in.Answer) != 1 {
					b.Errorf("SRV _web._tcp.bench.mesos: %v %v", in, err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	})

	b.Run("follow", func(b *testing.B) {
		var up, down []time.Duration
		i := 0
		for b.Loop() {
			i++
			id, name := fmt.Sprint("follow-", i), fmt.Sprint("follow", i)
			f.launch(portTask(id, name, uint64(31001+i%90)))
			f.waitState(id, 30*time.Second, mesos.TaskRunning)
			up = append(up, untilAnswer(b, addr, name+".bench.mesos", "NOERROR 127.0.0.1"))
			if err := f.client.Kill(b.Context(), id, ""); err != nil {
				b.Fatal(err)
			}
			f.waitState(id, 30*time.Second, mesos.TaskKilled)
			down = append(down, untilAnswer(b, addr, name+".bench.mesos", "NXDOMAIN"))
		}
		report := func(ds []time.Duration, unit string) {
			var sum time.Duration
			for _, d := range ds {
				sum += d
			}
			b.ReportMetric(float64(sum.Milliseconds())/float64(len(ds)), unit)
			b.ReportMetric(float64(slices.Max(ds).Milliseconds()), "max-"+unit)
		}
		report(up, "ms-to-resolve")
		report(down, "ms-to-forget")
	})
}

// untilAnswer asks for name's A record every millisecond until the answer
// is want, and returns how long that took.
func untilAnswer(b *testing.B, addr, name, want string) time.Duration {
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for dnsAnswer("udp", addr, name, dns.TypeA) != want {
		if time.Now().After(deadline) {
			b.Fatalf("A %s: no %q within 30s", name, want)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

package agent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the agent's Prometheus metrics, in a registry of its own so
// that several agents can live in one process.
type metrics struct {
	reg           *prometheus.Registry
	registered    prometheus.Gauge
	pending       prometheus.Gauge
	registrations prometheus.Counter
	launched      prometheus.Counter
	updatesSent   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		registered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "corral_agent_registered", Help: "1 while the agent is registered with a master."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "corral_agent_status_updates_pending", Help: "Status updates not yet acknowledged."}),
		registrations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "corral_agent_registrations_total", Help: "Successful (re-)registrations with a master."}),
		launched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "corral_agent_tasks_launched_total", Help: "Tasks the agent started to launch."}),
		updatesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "corral_agent_status_updates_sent_total", Help: "Status updates sent to the master (resends included)."}),
	}
	m.reg.MustRegister(m.registered, m.pending, m.registrations, m.launched, m.updatesSent)
	return m
}

// taskStates collects corral_agent_tasks{state} from the loop at scrape time.
type taskStates struct {
	desc  *prometheus.Desc
	count func() map[string]int
}

func (c taskStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c taskStates) Collect(ch chan<- prometheus.Metric) {
	for state, n := range c.count() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
}

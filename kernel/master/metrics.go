package master

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"corral/kernel/master/internal/core"
)

// metrics are the master's Prometheus collectors, on a registry of its own
// so several masters can live in one process (tests, corral dev).
type metrics struct {
	reg               *prometheus.Registry
	agents            *prometheus.GaugeVec
	frameworks        *prometheus.GaugeVec
	tasks             *prometheus.GaugeVec
	offers            prometheus.Gauge
	allocationSeconds prometheus.Histogram
	apiSeconds        *prometheus.HistogramVec
	eventsSent        *prometheus.CounterVec
	statusUpdates     *prometheus.CounterVec
	tasksLaunched     prometheus.Counter
	elected           prometheus.Gauge
}

func newMetrics() *metrics {
	mt := &metrics{
		reg: prometheus.NewRegistry(),
		agents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "corral_master_agents", Help: "Agents by state.",
		}, []string{"state"}),
		frameworks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "corral_master_frameworks", Help: "Frameworks by state.",
		}, []string{"state"}),
		tasks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "corral_master_tasks", Help: "Tasks known to the master, by state.",
		}, []string{"state"}),
		offers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "corral_master_offers_outstanding", Help: "Offers sent and not yet accepted, declined or rescinded.",
		}),
		allocationSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "corral_master_allocation_cycle_seconds", Help: "Time of one allocation cycle.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		apiSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "corral_master_scheduler_api_seconds", Help: "Latency of scheduler API calls (SUBSCRIBE: until the stream ends).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"call"}),
		eventsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "corral_master_events_sent_total", Help: "Events queued to framework streams, by type.",
		}, []string{"type"}),
		statusUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "corral_master_status_updates_total", Help: "Status updates received from agents, by state.",
		}, []string{"state"}),
		tasksLaunched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "corral_master_tasks_launched_total", Help: "Tasks sent to agents for launch.",
		}),
		elected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "corral_master_elected", Help: "1 while this master leads.",
		}),
	}
	mt.reg.MustRegister(mt.agents, mt.frameworks, mt.tasks, mt.offers, mt.allocationSeconds, mt.apiSeconds,
		mt.eventsSent, mt.statusUpdates, mt.tasksLaunched, mt.elected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return mt
}

// set sets the gauges to the core's counts.
func (mt *metrics) set(g core.Gauges) {
	for k, v := range g.Agents {
		mt.agents.WithLabelValues(k).Set(float64(v))
	}
	for k, v := range g.Frameworks {
		mt.frameworks.WithLabelValues(k).Set(float64(v))
	}
	mt.tasks.Reset()
	for k, v := range g.Tasks {
		mt.tasks.WithLabelValues(string(k)).Set(float64(v))
	}
	mt.offers.Set(float64(g.Offers))
}

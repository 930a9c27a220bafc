package jobs

import (
	"errors"

	"corral/kernel/sched"
)

// resubscribe decides what follows the end of the scheduler client's Run
// (ctx still live) and says it in the log: true to run it again after a
// pause, false when the kernel removed the framework.
//
// Removal is terminal: the kernel killed the framework's tasks and
// refuses its id for good. Registering anew on our own would hide a
// teardown nobody here asked for (and, while the kernel authenticates
// nobody, any client could send one), so the instance keeps leading,
// launches nothing, answers 503 on /health, and leaves the decision to
// an operator.
func (s *Service) resubscribe(client *sched.Client, err error) bool {
	if errors.Is(err, sched.ErrRemoved) {
		s.log.Error("framework removed by the kernel: its tasks were killed and the kernel refuses its id for good; "+
			"this instance launches no runs and /health answers 503. Find out who tore it down (the master's log), "+
			"then delete the stored id (DELETE FROM jobs.framework) and restart the jobs instances: "+
			"they register a new framework",
			"framework_id", client.FrameworkID(), "err", err)
		return false
	}
	s.log.Error("scheduler client stopped; retrying", "err", err)
	return true
}

// kernelStatus returns the connection status of this instance's scheduler
// client; false while it does not lead, or leads but has not created the
// client yet (its term is loading the state).
func (s *Service) kernelStatus() (sched.Status, bool) {
	s.mu.Lock()
	var client *sched.Client
	if s.leader != nil {
		client = s.leader.client
	}
	s.mu.Unlock()
	if client == nil {
		return sched.Status{}, false
	}
	return client.Status(), true
}

package job

import "strconv"

// MaxTaskIDLen is the longest task id Mesos (and corral's master and
// agents) accept, in bytes.
const MaxTaskIDLen = 255

// MaxNameLen is the longest job name, in bytes, whose task ids fit
// MaxTaskIDLen whatever the occurrence, attempt and run: see TaskID.
const MaxNameLen = MaxTaskIDLen - len("ct:") - len("-9223372036854775808") - len(":1000:") - len(":9223372036854775807")

// TaskID returns the kernel task id of one attempt of a run of the job
// called name: "ct:<ms>:<attempt>:<name>:<run id>", after Chronos' task
// ids "ct:<ms>:<attempt>:<name>:<arguments>". ms is the occurrence the
// run is for in Unix milliseconds (the launch time for a run that is not
// scheduled); attempt counts from 0 and is at most MaxRetries. A valid
// name (ValidName) gives an id of at most MaxTaskIDLen bytes, with no ".."
// that agents would refuse.
func TaskID(ms int64, attempt int, name string, runID int64) string {
	b := make([]byte, 0, 64+len(name))
	b = append(b, "ct:"...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(attempt), 10)
	b = append(b, ':')
	b = append(b, name...)
	b = append(b, ':')
	b = strconv.AppendInt(b, runID, 10)
	return string(b)
}

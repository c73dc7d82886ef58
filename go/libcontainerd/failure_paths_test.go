package libcontainerd

// The differential suite's failure paths: each scenario fails the same way through moby
// v24.0.9's remote client and through this adapter, on the same containerd, and what dockerd
// would read of the error (err.Error(), with the namespace and pids normalized, and its error
// class) must be the same. dockerd shows this text to users and matches on it.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/docker/docker/errdefs"
	"google.golang.org/grpc/status"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

// dockerdBranches is every place in dockerd v24.0.9 (daemon/, container/, plugin/,
// libcontainerd/) that branches on an error coming from libcontainerd, found by a scan of its
// source for strings.Contains(err.Error(), ...), errdefs.Is*, cerrdefs.Is* and errors.Is, with
// the failure scenarios that reach it and what the branch reads of the error. Our error must
// give the same reading as moby's in each. Not listed, because the error does not come from
// libcontainerd: daemon/attach.go:181 (errors.Is context.Canceled on the stream copy),
// daemon/update.go:87 (IsConflict of GetRunningTask), daemon/delete.go:148 and
// plugin/fetch_linux.go:251 (containerd's leases and content services), daemon/list.go,
// daemon/names.go, daemon/daemon_unix.go:1366/1379 (the container store).
var dockerdBranches = []struct {
	site      string
	scenarios []string
	reads     func(error) string
}{
	{"daemon/errors.go:137 setExitCodeFromError, from daemon/start.go:182,194, start_unix.go:20 and exec.go:291: " +
		"status.Convert(err).Message() searched for EACCES, EISDIR, ENOTDIR and not-found texts (exit codes 126/127/128)",
		[]string{"start missing-binary", "start not-executable", "start tty-missing-binary", "exec exec-missing-binary",
			"exec exec-not-executable", "exec exec-tty-missing-binary", "exec into stopped task", "exec into deleted task"},
		func(err error) string { s := status.Convert(err); return s.Code().String() + " " + s.Message() }},
	{"daemon/kill.go:101 (task.Kill) and kill.go:184 killPossiblyDeadProcess: errdefs.IsNotFound",
		[]string{"kill stopped task", "kill deleted task", "kill deleted exec", "kill with cancelled context", "kill with expired deadline"},
		isNotFound},
	{"daemon/monitor.go:227 (LoadContainer on a start event): errdefs.IsNotFound",
		[]string{"load deleted container", "load with cancelled context"}, isNotFound},
	{"daemon/monitor.go:240 (ctr.Task on a start event): errdefs.IsNotFound",
		[]string{"task of container without one"}, isNotFound},
	{"daemon/daemon.go:352 RestoreTask via container/container.go:772 (AttachTask): !errdefs.IsNotFound",
		[]string{"attach to task of container without one"}, isNotFound},
	{"daemon/daemon.go:369 (tsk.Delete of a dead task at restore): !errdefs.IsNotFound",
		[]string{"delete deleted task", "delete stopped task", "delete running task"}, isNotFound},
	{"daemon/daemon.go:375 shutdownContainer (kill): !errdefs.IsNotFound",
		[]string{"kill deleted task", "kill stopped task"}, isNotFound},
	{"daemon/stats_unix.go:43 (task.Stats): strings.Contains(err.Error(), \"container not found\")",
		[]string{"stats of stopped task", "stats of deleted task"},
		func(err error) string {
			return fmt.Sprint(err != nil && strings.Contains(err.Error(), "container not found"))
		}},
	{"libcontainerd/replace.go:22 (NewContainer): errdefs.IsConflict",
		[]string{"duplicate container id"}, func(err error) string { return fmt.Sprint(errdefs.IsConflict(err)) }},
	{"libcontainerd/replace.go:30 (LoadContainer), :40 (ctr.Task), :50 (ForceDelete), :57 (ctr.Delete): errdefs.IsNotFound",
		[]string{"load deleted container", "task of container without one", "force delete deleted task", "delete deleted container"},
		isNotFound},
	{"plugin/executor/containerd/containerd.go:64 (ForceDelete), :69 (ctr.Delete), :102 (LoadContainer), :109 (AttachTask), " +
		":117 (tsk.Status): errdefs.IsNotFound",
		[]string{"force delete deleted task", "delete deleted container", "load deleted container",
			"attach to task of container without one", "status of deleted task"}, isNotFound},
	{"libcontainerd/remote/client.go:565 closeStdin: strings.Contains(err.Error(), \"transport is closing\") " +
		"(the adapter's stdinCloser keeps it); container/stream logs the rest",
		[]string{"close stdin after exec delete", "close stdin after exec exec-missing-binary", "close stdin after start missing-binary"},
		func(err error) string {
			return fmt.Sprint(err != nil && strings.Contains(err.Error(), "transport is closing"), err)
		}},
}

func isNotFound(err error) string { return fmt.Sprint(errdefs.IsNotFound(err)) }

func TestDifferentialFailurePathsErrorText(t *testing.T) {
	m, o := mobytest.CompareFailures(t, scenarioClient(mobyClient), scenarioClient(ourClient))
	for _, b := range dockerdBranches {
		for _, scenario := range b.scenarios {
			mErr, ok := m.Errors[scenario]
			if !ok {
				t.Fatalf("%s: no scenario %q", b.site, scenario)
			}
			mRead := strings.ReplaceAll(b.reads(mErr), m.Namespace, "NS")
			oRead := strings.ReplaceAll(b.reads(o.Errors[scenario]), o.Namespace, "NS")
			if mRead != oRead {
				t.Errorf("dockerd branch %s\n  scenario %q reads %q with moby's error, %q with ours", b.site, scenario, mRead, oRead)
			}
		}
	}
}

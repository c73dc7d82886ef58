package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1/stats"
	statsv2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/pkg/errors"
	"google.golang.org/protobuf/proto"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// lcdProcess is what a task and an exec have in common in package lcd.
type lcdProcess interface {
	Pid() uint32
	Exited() (lcd.Exit, bool)
	Kill(ctx context.Context, signal uint32) error
	Resize(ctx context.Context, width, height uint32) error
	Close() error
}

// Process is moby's Process over a library task or exec, with the caller's IO. Pid, Kill and
// Resize have moby's signatures; a version's Process adds Delete with its ExitStatus.
type Process struct {
	errs   *Errors
	lp     lcdProcess
	io     IO
	del    func(context.Context) (lcd.Exit, error)
	status func(context.Context) (lcd.ProcessStatus, error)
	isExec bool
}

// Pid is the process id (0 for a task not created yet).
func (p *Process) Pid() uint32 { return p.lp.Pid() }

// Kill signals the process.
func (p *Process) Kill(ctx context.Context, signal syscall.Signal) error {
	return p.errs.wrapError(p.lp.Kill(ctx, uint32(signal)))
}

// Resize sets the size of the process's terminal.
func (p *Process) Resize(ctx context.Context, width, height uint32) error {
	return p.errs.toError(p.lp.Resize(ctx, width, height))
}

// Delete follows containerd's Go client (task.Delete, process.Delete): refuse a live process
// in the client's words, then, for the task, cancel and drain the IO before the delete RPC so
// no output is lost and close it after; for an exec, the delete RPC first (the shim closes the
// exec's FIFO ends, waiting at most ~2 s for its IO, so a background child that keeps the
// exec's pipes open cannot hold the delete up), then cancel, wait and close the IO.
func (p *Process) Delete(ctx context.Context) (lcd.Exit, error) {
	// A process whose exit the event stream reported is stopped: no status RPC is needed (the
	// usual case, dockerd deletes after the exit event).
	if _, exited := p.lp.Exited(); !exited {
		st, err := p.status(ctx)
		if err != nil {
			return lcd.Exit{}, p.errs.wrapError(err)
		}
		if refusal := p.refuseLive(st.State); refusal != nil {
			return lcd.Exit{}, p.errs.wrapError(refusal)
		}
	}
	if p.isExec {
		exit, err := p.del(ctx)
		if err != nil {
			return lcd.Exit{}, p.errs.wrapError(err)
		}
		if p.io != nil {
			p.io.Cancel()
			p.io.Wait()
			p.io.Close()
		}
		return exit, nil
	}
	if p.io != nil {
		p.io.Cancel()
		p.io.Wait()
	}
	exit, err := p.del(ctx)
	if err != nil {
		return lcd.Exit{}, p.errs.wrapError(err)
	}
	if p.io != nil {
		p.io.Close()
	}
	return exit, nil
}

// refuseLive is containerd's client's refusal to delete a process in state st (nil when it
// may be deleted): a task must be stopped (a created one too), an exec must not be running.
func (p *Process) refuseLive(st lcd.State) error {
	switch {
	case st == lcd.StateRunning || st == lcd.StatePaused || st == lcd.StatePausing:
	case st == lcd.StateCreated && !p.isExec:
	default:
		return nil
	}
	text := fmt.Sprintf("task must be stopped before deletion: %s: failed precondition", st)
	if p.isExec {
		text = fmt.Sprintf("current process state: %s, process must be stopped before deletion: failed precondition", st)
	}
	return &lcd.Error{Status: lcd.FailedPrecondition, Message: text}
}

// Task is moby's Task over a library task. The methods whose signatures have no moby or
// containerd client type are moby's; a version's Task converts the others.
type Task struct {
	Process
	t *lcd.Task
	// deletedByFailedStart: the library deleted the task after its start failed.
	deletedByFailedStart atomic.Bool
}

// Start starts a task made by Container.NewTask. When the start fails the library kills and
// deletes the task (it never ran), and the copies of its output may finish, within a limit.
func (t *Task) Start(ctx context.Context) error {
	err := t.t.Start(ctx)
	if err != nil {
		if _, deleted := t.t.Exited(); deleted {
			t.deletedByFailedStart.Store(true)
			closeIO(t.io, ioDrainLimit)
		}
		return t.errs.wrapError(err)
	}
	return nil
}

// Pause freezes the task.
func (t *Task) Pause(ctx context.Context) error { return t.errs.wrapError(t.t.Pause(ctx)) }

// Resume thaws the task.
func (t *Task) Resume(ctx context.Context) error { return t.errs.wrapError(t.t.Resume(ctx)) }

// Metrics is the task's cgroup metrics sample, decoded to containerd/cgroups' v1 or v2
// Metrics, and when containerd read it (what moby's InterfaceToStats takes).
func (t *Task) Metrics(ctx context.Context) (read time.Time, metrics interface{}, err error) {
	s, err := t.t.Stats(ctx)
	if err != nil {
		return time.Time{}, nil, t.errs.toError(err)
	}
	var m proto.Message
	switch {
	case strings.HasSuffix(s.TypeURL, "io.containerd.cgroups.v1.Metrics"):
		m = &stats.Metrics{}
	case strings.HasSuffix(s.TypeURL, "io.containerd.cgroups.v2.Metrics"):
		m = &statsv2.Metrics{}
	default:
		return time.Time{}, nil, errors.Errorf("unknown metrics type %s", s.TypeURL)
	}
	if err := proto.Unmarshal(s.Payload, m); err != nil {
		return time.Time{}, nil, errors.Wrapf(err, "decode %s", s.TypeURL)
	}
	return s.Read, m, nil
}

// Pids lists the task's processes with their info payloads.
func (t *Task) Pids(ctx context.Context) ([]lcd.ProcessInfo, error) {
	pids, err := t.t.Pids(ctx)
	return pids, t.errs.toError(err)
}

// ForceDelete kills the task's processes and deletes the task. A task the library deleted
// after its failed start is gone already: its IO was closed then, and there is nothing left to
// delete (moby's client deletes the task here, ours did it at once).
func (t *Task) ForceDelete(ctx context.Context) error {
	if t.deletedByFailedStart.Load() {
		return nil
	}
	if t.io != nil {
		t.io.Cancel()
	}
	_, err := t.t.ForceDelete(ctx)
	if t.io != nil {
		t.io.Wait()
		t.io.Close()
	}
	return t.errs.wrapError(err)
}

// Status is the task's state, exit code and exit time.
func (t *Task) Status(ctx context.Context) (lcd.ProcessStatus, error) {
	st, err := t.t.Status(ctx)
	return st, t.errs.wrapError(err)
}

// Exec adds and starts a process in the task, the caller's stdio attached first.
func (t *Task) Exec(ctx context.Context, processID string, spec *specs.Process, withStdin bool, attachFn AttachFunc) (*Process, error) {
	errs := t.errs
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, errs.invalidParameter(err, "encode process spec")
	}
	// moby's order: the caller attaches to the FIFOs before the process exists, then one
	// library call adds and starts it.
	p, err := t.t.PrepareExec(processID, specJSON, withStdin)
	if err != nil {
		return nil, errs.orConflict(err)
	}
	rio, release, err := errs.attach(ctx, p.Stdio(), p.CloseStdin, attachFn)
	if err != nil {
		p.Close() // never added: this removes the FIFOs
		return nil, err
	}
	err = p.Start(ctx)
	release()
	if err != nil {
		// The library already removed what the failed add or start left. moby's order for the
		// IO: after a failed add, cancel and close it at once; after a failed start (the
		// process was deleted, so the shim closed its FIFO ends) let the copies finish, within
		// a limit, then close.
		drain := time.Duration(0)
		if _, deleted := p.Exited(); deleted {
			drain = ioDrainLimit
		}
		closeIO(rio, drain)
		p.Close()
		return nil, errs.orConflict(err)
	}
	return &Process{errs: errs, lp: p, io: rio, del: p.Delete, status: p.Status, isExec: true}, nil
}

// UpdateResources applies new resource limits (moby's Resources are runtime-spec's
// LinuxResources on Linux).
func (t *Task) UpdateResources(ctx context.Context, resources *specs.LinuxResources) error {
	b, err := json.Marshal(resources)
	if err != nil {
		return t.errs.invalidParameter(err, "encode resources")
	}
	return t.errs.toError(t.t.UpdateResources(ctx, b))
}

// CreateCheckpoint checkpoints the task into checkpointDir, leaving it stopped when exit.
func (t *Task) CreateCheckpoint(ctx context.Context, checkpointDir string, exit bool) error {
	return t.errs.toError(t.t.Checkpoint(ctx, checkpointDir, exit))
}

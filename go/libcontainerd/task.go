package libcontainerd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1/stats"
	statsv2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/docker/docker/errdefs"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	prototypes "github.com/gogo/protobuf/types"
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

// process is moby's Process over a library task or exec, with the caller's IO.
type process struct {
	lp     lcdProcess
	io     cio.IO
	del    func(context.Context) (lcd.Exit, error)
	status func(context.Context) (lcd.ProcessStatus, error)
	isExec bool
}

func (p *process) Pid() uint32 { return p.lp.Pid() }

func (p *process) Kill(ctx context.Context, signal syscall.Signal) error {
	return wrapError(p.lp.Kill(ctx, uint32(signal)))
}

func (p *process) Resize(ctx context.Context, width, height uint32) error {
	return toError(p.lp.Resize(ctx, width, height))
}

// Delete follows containerd's Go client (task.Delete, process.Delete): refuse a live process
// in the client's words, then, for the task, cancel and drain the IO before the delete RPC so
// no output is lost and close it after; for an exec, the delete RPC first (the shim closes the
// exec's FIFO ends, waiting at most ~2 s for its IO, so a background child that keeps the
// exec's pipes open cannot hold the delete up), then cancel, wait and close the IO.
func (p *process) Delete(ctx context.Context) (*containerd.ExitStatus, error) {
	// A process whose exit the event stream reported is stopped: no status RPC is needed (the
	// usual case, dockerd deletes after the exit event).
	if _, exited := p.lp.Exited(); !exited {
		st, err := p.status(ctx)
		if err != nil {
			return nil, wrapError(err)
		}
		if refusal := p.refuseLive(st.State); refusal != nil {
			return nil, wrapError(refusal)
		}
	}
	if p.isExec {
		exit, err := p.del(ctx)
		if err != nil {
			return nil, wrapError(err)
		}
		if p.io != nil {
			p.io.Cancel()
			p.io.Wait()
			p.io.Close()
		}
		return containerd.NewExitStatus(exit.Code, exit.ExitedAt, nil), nil
	}
	if p.io != nil {
		p.io.Cancel()
		p.io.Wait()
	}
	exit, err := p.del(ctx)
	if err != nil {
		return nil, wrapError(err)
	}
	if p.io != nil {
		p.io.Close()
	}
	return containerd.NewExitStatus(exit.Code, exit.ExitedAt, nil), nil
}

// refuseLive is containerd's client's refusal to delete a process in state st (nil when it
// may be deleted): a task must be stopped (a created one too), an exec must not be running.
func (p *process) refuseLive(st lcd.State) error {
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

type task struct {
	process
	t *lcd.Task
}

func (t *task) Pause(ctx context.Context) error  { return wrapError(t.t.Pause(ctx)) }
func (t *task) Resume(ctx context.Context) error { return wrapError(t.t.Resume(ctx)) }

func (t *task) Stats(ctx context.Context) (*libcontainerdtypes.Stats, error) {
	s, err := t.t.Stats(ctx)
	if err != nil {
		return nil, toError(err)
	}
	var m proto.Message
	switch {
	case strings.HasSuffix(s.TypeURL, "io.containerd.cgroups.v1.Metrics"):
		m = &stats.Metrics{}
	case strings.HasSuffix(s.TypeURL, "io.containerd.cgroups.v2.Metrics"):
		m = &statsv2.Metrics{}
	default:
		return nil, errors.Errorf("unknown metrics type %s", s.TypeURL)
	}
	if err := proto.Unmarshal(s.Payload, m); err != nil {
		return nil, errors.Wrapf(err, "decode %s", s.TypeURL)
	}
	return libcontainerdtypes.InterfaceToStats(s.Read, m), nil
}

func (t *task) Pids(ctx context.Context) ([]containerd.ProcessInfo, error) {
	pids, err := t.t.Pids(ctx)
	if err != nil {
		return nil, toError(err)
	}
	out := make([]containerd.ProcessInfo, len(pids))
	for i, p := range pids {
		out[i].Pid = p.Pid
		if p.InfoTypeURL != "" {
			out[i].Info = &prototypes.Any{TypeUrl: p.InfoTypeURL, Value: p.Info}
		}
	}
	return out, nil
}

// Summary is empty per process on Linux, as in moby.
func (t *task) Summary(ctx context.Context) ([]libcontainerdtypes.Summary, error) {
	pids, err := t.t.Pids(ctx)
	if err != nil {
		return nil, toError(err)
	}
	return make([]libcontainerdtypes.Summary, len(pids)), nil
}

func (t *task) ForceDelete(ctx context.Context) error {
	if t.io != nil {
		t.io.Cancel()
	}
	_, err := t.t.ForceDelete(ctx)
	if t.io != nil {
		t.io.Wait()
		t.io.Close()
	}
	return wrapError(err)
}

func (t *task) Status(ctx context.Context) (containerd.Status, error) {
	st, err := t.t.Status(ctx)
	if err != nil {
		return containerd.Status{}, wrapError(err)
	}
	return containerd.Status{Status: containerd.ProcessStatus(st.State.String()), ExitStatus: st.ExitCode, ExitTime: st.ExitedAt}, nil
}

func (t *task) Exec(ctx context.Context, processID string, spec *specs.Process, withStdin bool, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Process, error) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, errdefs.InvalidParameter(errors.Wrap(err, "encode process spec"))
	}
	// moby's order: the caller attaches to the FIFOs before the process exists, then one
	// library call adds and starts it.
	p, err := t.t.PrepareExec(processID, specJSON, withStdin)
	if err != nil {
		return nil, execError(err)
	}
	rio, release, err := attach(ctx, p.Stdio(), p.CloseStdin, attachStdio)
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
		return nil, execError(err)
	}
	return &process{lp: p, io: rio, del: p.Delete, status: p.Status, isExec: true}, nil
}

// execError is moby's error for a failed exec: a used id is a conflict.
func execError(err error) error {
	if lcd.StatusOf(err) == lcd.AlreadyExists {
		return errors.WithStack(errdefs.Conflict(errors.New("id already in use")))
	}
	return wrapError(err)
}

func (t *task) UpdateResources(ctx context.Context, resources *libcontainerdtypes.Resources) error {
	b, err := json.Marshal(resources)
	if err != nil {
		return errdefs.InvalidParameter(errors.Wrap(err, "encode resources"))
	}
	return toError(t.t.UpdateResources(ctx, b))
}

func (t *task) CreateCheckpoint(ctx context.Context, checkpointDir string, exit bool) error {
	return toError(t.t.Checkpoint(ctx, checkpointDir, exit))
}

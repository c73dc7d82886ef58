package libcontainerd

import (
	"context"
	"time"

	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	"github.com/pkg/errors"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

type container struct {
	client *client
	ctr    *lcd.Container
}

func (c *container) Start(ctx context.Context, checkpointDir string, withStdin bool, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Task, error) {
	var (
		t   *lcd.Task
		err error
	)
	// Without a checkpoint, moby's order: the caller attaches to the FIFOs before the task
	// exists, then one library call creates and starts it. A restore creates the task first.
	prepared := checkpointDir == ""
	if prepared {
		t, err = c.ctr.PrepareTask(withStdin)
	} else {
		t, err = c.ctr.NewTaskFromCheckpoint(ctx, withStdin, checkpointDir)
	}
	if err != nil {
		return nil, errors.Wrap(wrapError(err), "failed to create task for container")
	}
	rio, release, err := attach(ctx, t.Stdio(), t.CloseStdin, attachStdio)
	if err != nil {
		if prepared {
			t.Close() // never created: this removes the FIFOs
		} else {
			forceDelete(t)
		}
		return nil, errors.Wrap(err, "failed to create task for container")
	}
	err = t.Start(ctx)
	release()
	if err != nil {
		// The library already removed what the failed create or start left (a task whose
		// create failed has no pid). moby's order for the IO: after a failed create, cancel and
		// close it without waiting (a process that outlived a containerd crash may hold the
		// FIFOs' write ends for ever); after a failed start (the task was killed and deleted)
		// let the copies finish, within a limit, then close.
		if t.Pid() == 0 {
			closeIO(rio, 0)
			t.Close()
			return nil, errors.Wrap(wrapError(err), "failed to create task for container")
		}
		closeIO(rio, ioDrainLimit)
		t.Close()
		return nil, wrapError(err)
	}
	return &task{process: process{lp: t, io: rio, del: t.Delete, status: t.Status}, t: t}, nil
}

func forceDelete(t *lcd.Task) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	_, _ = t.ForceDelete(ctx)
	t.Close()
}

func (c *container) Task(ctx context.Context) (libcontainerdtypes.Task, error) {
	t, err := c.ctr.Task(ctx, false)
	if err != nil {
		// The library's text is containerd's client's ("no running task found: ...").
		return nil, wrapError(err)
	}
	return &task{process: process{lp: t, del: t.Delete, status: t.Status}, t: t}, nil
}

func (c *container) AttachTask(ctx context.Context, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Task, error) {
	t, err := c.ctr.Task(ctx, true)
	if err != nil {
		return nil, errors.Wrap(wrapError(err), "error getting containerd task for container")
	}
	tk := &task{process: process{lp: t, del: t.Delete, status: t.Status}, t: t}
	if t.Stdio().Stdout != "" {
		rio, release, err := attach(ctx, t.Stdio(), t.CloseStdin, attachStdio)
		if err != nil {
			t.Close()
			return nil, errors.Wrap(err, "error attaching to container stdio")
		}
		// The shim holds the write ends of a running task's FIFOs already.
		release()
		tk.io = rio
	}
	return tk, nil
}

func (c *container) Delete(ctx context.Context) error {
	return wrapError(c.ctr.Delete(ctx))
}

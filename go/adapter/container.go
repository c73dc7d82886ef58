package adapter

import (
	"context"
	"os"
	"time"

	"github.com/pkg/errors"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// Container is a containerd container of the client.
type Container struct {
	client *Client
	ctr    *lcd.Container
}

func (c *Container) newTask(t *lcd.Task, rio IO) *Task {
	return &Task{Process: Process{errs: c.client.errs, lp: t, io: rio, del: t.Delete, status: t.Status}, t: t}
}

// StartTask creates and starts the container's task, the caller's stdio attached (moby v24's
// Container.Start).
func (c *Container) StartTask(ctx context.Context, checkpointDir string, withStdin bool, attachFn AttachFunc) (*Task, error) {
	errs := c.client.errs
	if checkpointDir != "" {
		t, err := c.NewTask(ctx, checkpointDir, withStdin, attachFn)
		if err != nil {
			return nil, err
		}
		if err := t.t.Start(ctx); err != nil {
			// moby's order after a failed start (the library killed and deleted the task): let
			// the copies finish, within a limit, then close.
			closeIO(t.io, ioDrainLimit)
			t.t.Close()
			return nil, errs.wrapError(err)
		}
		return t, nil
	}
	// moby's order: the caller attaches to the FIFOs before the task exists, then one library
	// call creates and starts it.
	t, err := c.ctr.PrepareTask(withStdin)
	if err != nil {
		return nil, errors.Wrap(errs.wrapError(err), "failed to create task for container")
	}
	rio, release, err := errs.attach(ctx, t.Stdio(), t.CloseStdin, attachFn)
	if err != nil {
		t.Close() // never created: this removes the FIFOs
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
			return nil, errors.Wrap(errs.wrapError(err), "failed to create task for container")
		}
		closeIO(rio, ioDrainLimit)
		t.Close()
		return nil, errs.wrapError(err)
	}
	return c.newTask(t, rio), nil
}

// NewTask creates the container's task without starting it, the caller's stdio attached before
// the create as moby does (moby v25+'s Container.NewTask; Task.Start starts it). A restore
// from checkpointDir creates the task first and attaches then.
func (c *Container) NewTask(ctx context.Context, checkpointDir string, withStdin bool, attachFn AttachFunc) (*Task, error) {
	errs := c.client.errs
	if checkpointDir != "" {
		t, err := c.ctr.NewTaskFromCheckpoint(ctx, withStdin, checkpointDir)
		if err != nil {
			return nil, errors.Wrap(errs.wrapError(err), "failed to create task for container")
		}
		rio, release, err := errs.attach(ctx, t.Stdio(), t.CloseStdin, attachFn)
		if err != nil {
			forceDelete(t)
			return nil, errors.Wrap(err, "failed to create task for container")
		}
		release()
		return c.newTask(t, rio), nil
	}
	// The library names the FIFOs; a prepared task that is closed at once (no RPC) says where,
	// and the create then takes the FIFOs the caller has open.
	prepared, err := c.ctr.PrepareTask(withStdin)
	if err != nil {
		return nil, errors.Wrap(errs.wrapError(err), "failed to create task for container")
	}
	stdio := prepared.Stdio()
	prepared.Close()
	// Closing stdin waits for the create, as moby's closer does, and then closes the task's
	// stdin, or only the FIFO when the create failed.
	created := make(chan *lcd.Task, 1)
	closeStdin := func(ctx context.Context) error {
		if t := <-created; t != nil { // the stdin closer calls this once
			return t.CloseStdin(ctx)
		}
		return nil
	}
	rio, release, err := errs.attach(ctx, stdio, closeStdin, attachFn)
	if err != nil {
		created <- nil
		removeFIFOs(stdio)
		return nil, errors.Wrap(err, "failed to create task for container")
	}
	t, err := c.ctr.NewTask(ctx, withStdin)
	created <- t
	release()
	if err != nil {
		// moby's order after a failed create: cancel and close the IO without waiting, and
		// remove the FIFOs this call made.
		closeIO(rio, 0)
		removeFIFOs(stdio)
		return nil, errors.Wrap(errs.wrapError(err), "failed to create task for container")
	}
	return c.newTask(t, rio), nil
}

// removeFIFOs removes the FIFO files of a task that was never created.
func removeFIFOs(stdio lcd.Stdio) {
	for _, path := range []string{stdio.Stdin, stdio.Stdout, stdio.Stderr} {
		if path != "" {
			_ = os.Remove(path)
		}
	}
}

func forceDelete(t *lcd.Task) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	_, _ = t.ForceDelete(ctx)
	t.Close()
}

// Task is the container's existing task, without IO.
func (c *Container) Task(ctx context.Context) (*Task, error) {
	t, err := c.ctr.Task(ctx, false)
	if err != nil {
		// The library's text is containerd's client's ("no running task found: ...").
		return nil, c.client.errs.wrapError(err)
	}
	return c.newTask(t, nil), nil
}

// AttachTask is the container's existing task with the caller's stdio re-attached to the
// FIFOs containerd names for it.
func (c *Container) AttachTask(ctx context.Context, attachFn AttachFunc) (*Task, error) {
	errs := c.client.errs
	t, err := c.ctr.Task(ctx, true)
	if err != nil {
		return nil, errors.Wrap(errs.wrapError(err), "error getting containerd task for container")
	}
	tk := c.newTask(t, nil)
	if t.Stdio().Stdout != "" {
		rio, release, err := errs.attach(ctx, t.Stdio(), t.CloseStdin, attachFn)
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

// Delete deletes the container record and its bundle; refused while a task exists.
func (c *Container) Delete(ctx context.Context) error {
	return c.client.errs.wrapError(c.ctr.Delete(ctx))
}

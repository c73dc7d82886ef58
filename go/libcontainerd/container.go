package libcontainerd

import (
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/cio"
	"github.com/docker/docker/errdefs"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	"github.com/hashicorp/go-multierror"
	"github.com/pkg/errors"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

type container struct {
	client *client
	ctr    *lcd.Container
}

// newDirectIO opens the FIFOs the library made (or containerd names) as moby's DirectIO.
// The library owns the FIFO files and removes them when the process is deleted.
func newDirectIO(ctx context.Context, stdio lcd.Stdio) (*cio.DirectIO, error) {
	cfg := cio.Config{Terminal: stdio.Terminal, Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr}
	return cio.NewDirectIO(ctx, cio.NewFIFOSet(cfg, nil))
}

// stdinCloser makes the first Close of the caller's stdin writer close the FIFO and then the
// process's stdin in containerd (moby's semantics); the library defers the CloseIO until the
// process has started when needed.
type stdinCloser struct {
	io.WriteCloser
	once     sync.Once
	closeIO  func(context.Context) error
	closeErr error
}

func (s *stdinCloser) Close() error {
	s.once.Do(func() {
		s.closeErr = s.WriteCloser.Close()
		if err := s.closeIO(context.Background()); err != nil && !strings.Contains(err.Error(), "transport is closing") {
			s.closeErr = multierror.Append(s.closeErr, err).ErrorOrNil()
		}
	})
	return s.closeErr
}

// attach builds the DirectIO, wraps stdin and hands it to the caller's callback.
func attach(ctx context.Context, stdio lcd.Stdio, closeStdin func(context.Context) error, attachStdio libcontainerdtypes.StdioCallback) (cio.IO, error) {
	dio, err := newDirectIO(ctx, stdio)
	if err != nil {
		return nil, err
	}
	if dio.Stdin != nil {
		dio.Stdin = &stdinCloser{WriteCloser: dio.Stdin, closeIO: closeStdin}
	}
	rio, err := attachStdio(dio)
	if err != nil {
		dio.Cancel()
		dio.Close()
		return nil, err
	}
	return rio, nil
}

func (c *container) Start(ctx context.Context, checkpointDir string, withStdin bool, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Task, error) {
	var (
		t   *lcd.Task
		err error
	)
	if checkpointDir != "" {
		t, err = c.ctr.NewTaskFromCheckpoint(ctx, withStdin, checkpointDir)
	} else {
		t, err = c.ctr.NewTask(ctx, withStdin)
	}
	if err != nil {
		return nil, errors.Wrap(wrapError(err), "failed to create task for container")
	}
	rio, err := attach(ctx, t.Stdio(), t.CloseStdin, attachStdio)
	if err != nil {
		forceDelete(t)
		return nil, errors.Wrap(err, "failed to create task for container")
	}
	if err := t.Start(ctx); err != nil {
		// The library already deleted the task; release the IO.
		closeIO(rio)
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

func closeIO(rio cio.IO) {
	if rio != nil {
		rio.Cancel()
		rio.Wait()
		rio.Close()
	}
}

func (c *container) Task(ctx context.Context) (libcontainerdtypes.Task, error) {
	t, err := c.ctr.Task(ctx, false)
	if err != nil {
		if lcd.StatusOf(err) == lcd.NotFound {
			return nil, errdefs.NotFound(errors.Wrap(toError(err), "no running task found"))
		}
		return nil, wrapError(err)
	}
	return &task{process: process{lp: t, del: t.Delete, status: t.Status}, t: t}, nil
}

func (c *container) AttachTask(ctx context.Context, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Task, error) {
	t, err := c.ctr.Task(ctx, true)
	if err != nil {
		if lcd.StatusOf(err) == lcd.NotFound {
			return nil, errdefs.NotFound(errors.Wrap(toError(err), "error getting containerd task for container"))
		}
		return nil, wrapError(err)
	}
	tk := &task{process: process{lp: t, del: t.Delete, status: t.Status}, t: t}
	if t.Stdio().Stdout != "" {
		rio, err := attach(ctx, t.Stdio(), t.CloseStdin, attachStdio)
		if err != nil {
			t.Close()
			return nil, errors.Wrap(err, "error attaching to container stdio")
		}
		tk.io = rio
	}
	return tk, nil
}

func (c *container) Delete(ctx context.Context) error {
	return wrapError(c.ctr.Delete(ctx))
}

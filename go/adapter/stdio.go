package adapter

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/pkg/errors"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// outputFIFOs are the read ends of a process's stdout and stderr FIFOs, opened without blocking
// before the process can write, with a write end of each held until release.
//
// Why not the fifo package that cio.NewDirectIO uses: it opens a read end in a goroutine with a
// blocking open that returns once a writer opens. The library keeps the shim's blocking open
// of the write ends from waiting for the caller, so when that goroutine ran late (a loaded
// machine) a short-lived exec could write, exit and have the shim close its write end before
// the goroutine's open began: the open then waited for a writer that never came, and Delete's
// Cancel closed it, losing the whole stream. A read end opened here exists before the start,
// and the held write end keeps it from reading a false end of file before the shim's write end
// is open (task create, exec start).
type outputFIFOs struct {
	readers []*os.File
	holds   []int
	once    sync.Once
}

func openOutputFIFOs(paths ...string) (*outputFIFOs, error) {
	o := &outputFIFOs{}
	for _, path := range paths {
		if path == "" {
			o.readers = append(o.readers, nil)
			continue
		}
		// Like the fifo package, make a FIFO that is missing (a task re-attached after its
		// files were cleaned up).
		if err := syscall.Mkfifo(path, 0o700); err != nil && err != syscall.EEXIST {
			o.close()
			return nil, errors.Wrapf(err, "make output fifo %s", path)
		}
		// O_NONBLOCK: opening a read end does not wait for a writer, and Go's poller serves
		// the reads.
		r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			o.close()
			return nil, errors.Wrapf(err, "open output fifo %s for reading", path)
		}
		o.readers = append(o.readers, r)
		hold, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			o.close()
			return nil, errors.Wrapf(err, "open output fifo %s for writing", path)
		}
		o.holds = append(o.holds, hold)
	}
	return o, nil
}

// reader is the i-th reader as the ReadCloser DirectIO wants (nil when that stream is unused).
func (o *outputFIFOs) reader(i int) io.ReadCloser {
	if o.readers[i] == nil {
		return nil
	}
	return o.readers[i]
}

// release drops the held write ends: once the shim's own are open (after task create or exec
// start, whether it succeeded or not), the readers see the end of the output when the shim
// closes them. Idempotent.
func (o *outputFIFOs) release() {
	o.once.Do(func() {
		for _, fd := range o.holds {
			_ = syscall.Close(fd)
		}
	})
}

func (o *outputFIFOs) close() {
	o.release()
	for _, r := range o.readers {
		if r != nil {
			_ = r.Close() // the caller may have closed it already
		}
	}
}

// IO is what a caller's stdio callback returns (containerd's cio.IO of the moby version).
type IO interface {
	Cancel()
	Wait()
	Close() error
}

// Pipes are a process's FIFOs as the caller's stdio callback gets them: the output read ends
// this package opened (nil when the stream is unused) and the stdin FIFO's path, which the
// version's cio package opens.
type Pipes struct {
	Stdout, Stderr io.ReadCloser
	StdinPath      string
	Terminal       bool
	// WrapStdin makes closing the stdin writer close the process's stdin in containerd.
	WrapStdin func(io.WriteCloser) io.WriteCloser
}

// AttachFunc is the moby version's side of attaching: make its DirectIO from the pipes and run
// the caller's callback on it; on failure it cancels and closes what it opened.
type AttachFunc func(ctx context.Context, p Pipes) (IO, error)

// callerIO is the IO the caller's callback returned; closing it also closes the output readers
// this package opened (dockerd closes them after copying, other callers may not).
type callerIO struct {
	IO
	outputs *outputFIFOs
}

func (c *callerIO) Close() error {
	err := c.IO.Close()
	c.outputs.close()
	return err
}

// stdinCloser makes the first Close of the caller's stdin writer close the FIFO and then the
// process's stdin in containerd (moby's semantics); the library defers the CloseIO until the
// process has started when needed.
type stdinCloser struct {
	io.WriteCloser
	once     sync.Once
	closeIO  func(context.Context) error
	errs     *Errors
	closeErr error
}

// A process whose create or add failed was never in containerd: closing its stdin only closes
// the FIFO (its handle is closed; moby's closer finds its channel closed and does nothing). A
// process deleted meanwhile (a failed start deletes it) answers containerd's not-found error,
// as moby's CloseIO RPC would. Never a panic: dockerd's copier calls this from its own
// goroutine, whatever became of the process.
func (s *stdinCloser) Close() error {
	s.once.Do(func() {
		s.closeErr = s.WriteCloser.Close()
		err := s.closeIO(context.Background())
		if err == nil || lcd.IsClosed(err) || strings.Contains(err.Error(), "transport is closing") {
			return
		}
		if s.closeErr != nil {
			s.closeErr = multierror.Append(s.closeErr, s.errs.toError(err))
		} else {
			s.closeErr = s.errs.toError(err) // moby's: a single error is not wrapped in a multierror
		}
	})
	return s.closeErr
}

// attach opens the output FIFOs the library made (or containerd names) and hands them, with
// the stdin path, to the version's attach, which runs the caller's callback. Call release once
// the process is created or started (or that failed); the library owns the FIFO files and
// removes them when the process is deleted.
func (e *Errors) attach(ctx context.Context, stdio lcd.Stdio, closeStdin func(context.Context) error, attachFn AttachFunc) (rio IO, release func(), err error) {
	outputs, err := openOutputFIFOs(stdio.Stdout, stdio.Stderr)
	if err != nil {
		return nil, nil, err
	}
	rio, err = attachFn(ctx, Pipes{
		Stdout: outputs.reader(0), Stderr: outputs.reader(1),
		StdinPath: stdio.Stdin, Terminal: stdio.Terminal,
		WrapStdin: func(w io.WriteCloser) io.WriteCloser {
			return &stdinCloser{WriteCloser: w, closeIO: closeStdin, errs: e}
		},
	})
	if err != nil {
		outputs.close()
		return nil, nil, err
	}
	return &callerIO{IO: rio, outputs: outputs}, outputs.release, nil
}

// ioDrainLimit bounds how long a failure path waits for the caller's copies before closing the
// IO: the shim closes its FIFO ends when it deletes a process (it waits at most 2 s for the
// process's IO itself), but a process that survived a failed cleanup (containerd gone) may hold
// them open for ever.
const ioDrainLimit = 3 * time.Second

// closeIO releases the IO of a process that is gone: cancel what is still opening, wait at most
// drain for the caller's copies to finish (none for a process that was never created, as moby
// does), close. Closing ends the copies that still wait.
func closeIO(rio IO, drain time.Duration) {
	if rio == nil {
		return
	}
	rio.Cancel()
	if drain > 0 {
		waitIO(rio, drain)
	}
	rio.Close()
}

// waitIO waits for the caller's copies, at most limit; false when the limit passed. The
// waiting goroutine ends once the IO is closed.
func waitIO(rio IO, limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		rio.Wait()
		close(done)
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

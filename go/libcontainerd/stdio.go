package libcontainerd

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/cio"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
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

// callerIO is the IO the caller's callback returned; closing it also closes the output readers
// this package opened (dockerd closes them after copying, other callers may not).
type callerIO struct {
	cio.IO
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
			s.closeErr = multierror.Append(s.closeErr, toError(err))
		} else {
			s.closeErr = toError(err) // moby's: a single error is not wrapped in a multierror
		}
	})
	return s.closeErr
}

// attach opens the FIFOs the library made (or containerd names) as moby's DirectIO, wraps stdin
// and hands them to the caller's callback. Call release once the process is started (or its
// start failed); the library owns the FIFO files and removes them when the process is deleted.
func attach(ctx context.Context, stdio lcd.Stdio, closeStdin func(context.Context) error, attachStdio libcontainerdtypes.StdioCallback) (rio cio.IO, release func(), err error) {
	outputs, err := openOutputFIFOs(stdio.Stdout, stdio.Stderr)
	if err != nil {
		return nil, nil, err
	}
	// The stdin writer keeps the fifo package: its open waits for the shim's read end, which
	// stays open until the stdin is closed.
	dio, err := cio.NewDirectIO(ctx, cio.NewFIFOSet(cio.Config{Terminal: stdio.Terminal, Stdin: stdio.Stdin}, nil))
	if err != nil {
		outputs.close()
		return nil, nil, err
	}
	dio.Stdout, dio.Stderr = outputs.reader(0), outputs.reader(1)
	if dio.Stdin != nil {
		dio.Stdin = &stdinCloser{WriteCloser: dio.Stdin, closeIO: closeStdin}
	}
	rio, err = attachStdio(dio)
	if err != nil {
		dio.Cancel()
		dio.Close()
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
func closeIO(rio cio.IO, drain time.Duration) {
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
func waitIO(rio cio.IO, limit time.Duration) bool {
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

package lcd

/*
#include <stdlib.h>
#include "libcontainerd_ffi.h"
*/
import "C"

import "context"

// Process is a process exec'd in a task.
type Process struct {
	h     handle[*C.lcd_process]
	id    string
	stdio Stdio
}

// Exec adds a process from a runtime-spec Process JSON document (sent as it is) with its FIFO
// set (one RPC); open the FIFOs, then Start.
func (t *Task) Exec(ctx context.Context, execID string, specJSON []byte, withStdin bool) (*Process, error) {
	var p *C.lcd_process
	err := t.h.asyncCall(ctx, func(tp *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		ip, il := stringArg(execID)
		sp, sl := bytesArg(specJSON)
		return C.lcd_task_exec_async(tp, ip, il, sp, sl, C.bool(withStdin), cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish_process(pending, &p, cerr)
	})
	if err != nil {
		return nil, err
	}
	return newProcess(p), nil
}

// PrepareExec makes the exec's FIFO set without asking containerd for anything; Start then
// adds and starts the process in one call (two RPCs). Until then calls that address
// containerd's process fail with FailedPrecondition; Close removes the FIFOs of a process that
// was never added. Open the FIFOs before Start (moby's order).
func (t *Task) PrepareExec(execID string, specJSON []byte, withStdin bool) (*Process, error) {
	var p *C.lcd_process
	err := t.h.use(func(tp *C.lcd_task) error {
		ip, il := stringArg(execID)
		sp, sl := bytesArg(specJSON)
		var cerr *C.lcd_error
		return check(C.lcd_task_prepare_exec(tp, ip, il, sp, sl, C.bool(withStdin), &p, &cerr), cerr)
	})
	if err != nil {
		return nil, err
	}
	return newProcess(p), nil
}

func newProcess(p *C.lcd_process) *Process {
	pr := &Process{id: C.GoString(C.lcd_process_id(p)), stdio: Stdio{
		Stdin:  goStringOrEmpty(C.lcd_process_stdio_path(p, C.LCD_STDIN)),
		Stdout: goStringOrEmpty(C.lcd_process_stdio_path(p, C.LCD_STDOUT)),
		Stderr: goStringOrEmpty(C.lcd_process_stdio_path(p, C.LCD_STDERR)),
	}}
	pr.stdio.Terminal = pr.stdio.Stderr == ""
	pr.h.init(p, "Process", func(p *C.lcd_process) { C.lcd_process_free(p) })
	track(pr, (*Process).Close)
	return pr
}

// ID is the exec id.
func (pr *Process) ID() string { return pr.id }

// Stdio is the process's FIFO set.
func (pr *Process) Stdio() Stdio { return pr.stdio }

// Pid is the process's pid (0 before it started; still answered after Delete).
func (pr *Process) Pid() (pid uint32) {
	if pr.h.use(func(p *C.lcd_process) error {
		pid = uint32(C.lcd_process_pid(p))
		return nil
	}) != nil {
		return pr.h.afterDelete().pidAfter() // 0 for a handle closed without a delete
	}
	return pid
}

func processPid(p *C.lcd_process) uint32 { return uint32(C.lcd_process_pid(p)) }

// Start starts the process (one RPC; serialized per container; a prepared process is added
// first, two RPCs); on failure it is deleted.
//
// A process the library deleted after its failed start (its exit is known) is retired as by
// Delete: later calls fail with the shim's not-found text, as they would with moby's client.
// One whose add failed was never in containerd and stays as it is.
func (pr *Process) Start(ctx context.Context) error {
	err := pr.h.asyncCall(ctx, func(p *C.lcd_process, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_process_start_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
	if err != nil {
		if exit, deleted := pr.Exited(); deleted {
			pr.retireDeleted(exit)
		}
	}
	return err
}

// retireDeleted frees the handle of the process just deleted; later calls answer with the
// shim's words for a process it does not have.
func (pr *Process) retireDeleted(exit Exit) {
	pr.h.retire(retired{notFound: "process does not exist " + pr.id + ": not found", serverText: "process does not exist " + pr.id + ": not found", exit: exit}, processPid)
}

// Exited reports the process's exit if the event stream has delivered it, or Delete returned
// it (no RPC, no wait).
func (pr *Process) Exited() (exit Exit, ok bool) {
	if pr.h.use(func(p *C.lcd_process) error {
		var code C.uint32_t
		var at C.int64_t
		ok = bool(C.lcd_process_exited(p, &code, &at))
		exit = Exit{Code: uint32(code), ExitedAt: timeFromNanos(at)}
		return nil
	}) != nil {
		return pr.h.afterDelete().exitAfter() // not exited for a handle closed without a delete
	}
	return exit, ok
}

// Kill signals the process (one RPC).
func (pr *Process) Kill(ctx context.Context, signal uint32) error {
	return pr.h.asyncCall(ctx, func(p *C.lcd_process, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_process_kill_async(p, C.uint32_t(signal), cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
}

// Resize sets the terminal size (one RPC).
func (pr *Process) Resize(ctx context.Context, width, height uint32) error {
	return pr.h.call(ctx, func(p *C.lcd_process, cancel *C.lcd_cancel, cerr **C.lcd_error) uint32 {
		return C.lcd_process_resize(p, C.uint32_t(width), C.uint32_t(height), cancel, cerr)
	})
}

// CloseStdin closes the process's stdin (one RPC; deferred until just after Start when asked
// before it).
func (pr *Process) CloseStdin(ctx context.Context) error {
	return pr.h.asyncCall(ctx, func(p *C.lcd_process, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_process_close_stdin_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
}

// Status is the process's state and exit (one RPC).
func (pr *Process) Status(ctx context.Context) (st ProcessStatus, err error) {
	err = pr.h.asyncCall(ctx, func(p *C.lcd_process, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_process_get_status_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		var s C.lcd_task_status
		rc := C.lcd_pending_finish_status(pending, &s, cerr)
		st = processStatus(s)
		return rc
	})
	return st, err
}

// Wait blocks until the process exits (event stream; no RPC). After Delete it returns the exit.
func (pr *Process) Wait(ctx context.Context) (Exit, error) {
	exit, err := pr.h.asyncExitCall(ctx, func(p *C.lcd_process, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_process_wait_async(p, cancel, out, cerr)
	})
	if err != nil {
		if r := pr.h.afterDelete(); r != nil {
			return r.exit, nil
		}
	}
	return exit, err
}

// Delete deletes the exited process and removes its FIFOs (one RPC), then frees the handle:
// later calls fail with NotFound, and Pid, Exited and Wait answer from what Delete learnt.
func (pr *Process) Delete(ctx context.Context) (Exit, error) {
	exit, err := pr.h.asyncExitCall(ctx, func(p *C.lcd_process, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_process_delete_async(p, cancel, out, cerr)
	})
	if err == nil {
		pr.retireDeleted(exit)
	}
	return exit, err
}

// Close frees the handle; the containerd process is not touched. Idempotent.
func (pr *Process) Close() error {
	pr.h.close()
	return nil
}

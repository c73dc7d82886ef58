package lcd

/*
#include <stdlib.h>
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"context"
	"time"
	"unsafe"
)

// Stdio names a process's FIFOs ("" for a stream it does not have).
type Stdio struct {
	Stdin, Stdout, Stderr string
	Terminal              bool
}

// State is a process state as containerd reports it.
type State int

// Process states.
const (
	StateUnknown State = C.LCD_STATE_UNKNOWN
	StateCreated State = C.LCD_STATE_CREATED
	StateRunning State = C.LCD_STATE_RUNNING
	StateStopped State = C.LCD_STATE_STOPPED
	StatePaused  State = C.LCD_STATE_PAUSED
	StatePausing State = C.LCD_STATE_PAUSING
)

// String is containerd's lower-case name of the state.
func (s State) String() string {
	switch s {
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateStopped:
		return "stopped"
	case StatePaused:
		return "paused"
	case StatePausing:
		return "pausing"
	}
	return "unknown"
}

// ProcessStatus is a process's state and exit.
type ProcessStatus struct {
	State    State
	ExitCode uint32
	ExitedAt time.Time
}

func processStatus(s C.lcd_task_status) ProcessStatus {
	return ProcessStatus{State: State(s.state), ExitCode: uint32(s.exit_code), ExitedAt: timeFromNanos(s.exited_at_unix_nanos)}
}

// Exit is how a process ended.
type Exit struct {
	Code     uint32
	ExitedAt time.Time
}

// ProcessInfo is one process of a task: host pid and containerd's info payload.
type ProcessInfo struct {
	Pid         uint32
	InfoTypeURL string
	Info        []byte
}

// StatsFigures are key figures decoded from a metrics payload.
type StatsFigures struct {
	CgroupVersion                      uint8
	CPUUsageNs                         uint64
	MemoryUsageBytes, MemoryLimitBytes uint64
	PidsCurrent, PidsLimit             uint64
}

// Stats is one stats sample: the payload exactly as containerd sent it, plus key figures.
type Stats struct {
	Read    time.Time
	TypeURL string
	Payload []byte
	Figures StatsFigures
}

// Task is a container's task (its init process).
type Task struct {
	h           handle[*C.lcd_task]
	containerID string
	stdio       Stdio
}

func newTask(p *C.lcd_task, containerID string) *Task {
	t := &Task{containerID: containerID, stdio: Stdio{
		Stdin:    goStringOrEmpty(C.lcd_task_stdio_path(p, C.LCD_STDIN)),
		Stdout:   goStringOrEmpty(C.lcd_task_stdio_path(p, C.LCD_STDOUT)),
		Stderr:   goStringOrEmpty(C.lcd_task_stdio_path(p, C.LCD_STDERR)),
		Terminal: bool(C.lcd_task_terminal(p)),
	}}
	t.h.init(p, "Task", func(p *C.lcd_task) { C.lcd_task_free(p) })
	track(t, (*Task).Close)
	return t
}

func goStringOrEmpty(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// NewTask makes the task's FIFO set and creates the task (one RPC); open the FIFOs, then Start.
func (c *Container) NewTask(ctx context.Context, withStdin bool) (*Task, error) {
	var p *C.lcd_task
	err := c.h.asyncCall(ctx, func(cp *C.lcd_container, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_create_async(cp, C.bool(withStdin), cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish_task(pending, &p, cerr)
	})
	if err != nil {
		return nil, err
	}
	return newTask(p, c.id), nil
}

// PrepareTask makes the task's FIFO set without asking containerd for anything; Start then
// creates and starts the task in one call (two RPCs). Until then Pid is 0 and calls that
// address containerd's task fail with FailedPrecondition; Close removes the FIFOs of a task
// that was never created. Open the FIFOs before Start (moby's order).
func (c *Container) PrepareTask(withStdin bool) (*Task, error) {
	var p *C.lcd_task
	err := c.h.use(func(cp *C.lcd_container) error {
		var cerr *C.lcd_error
		return check(C.lcd_task_prepare(cp, C.bool(withStdin), &p, &cerr), cerr)
	})
	if err != nil {
		return nil, err
	}
	return newTask(p, c.id), nil
}

// NewTaskFromCheckpoint is NewTask restoring from a checkpoint directory.
func (c *Container) NewTaskFromCheckpoint(ctx context.Context, withStdin bool, dir string) (*Task, error) {
	var p *C.lcd_task
	err := c.h.call(ctx, func(cp *C.lcd_container, cancel *C.lcd_cancel, cerr **C.lcd_error) uint32 {
		dp, dl := stringArg(dir)
		return C.lcd_task_create_from_checkpoint(cp, C.bool(withStdin), dp, dl, cancel, &p, cerr)
	})
	if err != nil {
		return nil, err
	}
	return newTask(p, c.id), nil
}

// Task gets the container's existing task (one RPC): without IO, or with attach the FIFOs
// containerd names for it.
func (c *Container) Task(ctx context.Context, attach bool) (*Task, error) {
	var p *C.lcd_task
	err := c.h.asyncCall(ctx, func(cp *C.lcd_container, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_container_task_async(cp, C.bool(attach), cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish_task(pending, &p, cerr)
	})
	if err != nil {
		return nil, err
	}
	return newTask(p, c.id), nil
}

// Stdio is the task's FIFO set.
func (t *Task) Stdio() Stdio { return t.stdio }

// Pid is the task's pid, from the handle (still answered after Delete); 0 while a prepared
// task is not created.
func (t *Task) Pid() (pid uint32) {
	if t.h.use(func(p *C.lcd_task) error {
		pid = uint32(C.lcd_task_pid(p))
		return nil
	}) != nil {
		return t.h.afterDelete().pidAfter() // 0 for a handle closed without a delete
	}
	return pid
}

// retire frees the handle of the task just deleted, keeping its pid and exit.
// Later calls answer with containerd's words for a task it does not have (tasks service).
func (t *Task) retire(exit Exit) {
	t.h.retire(retired{notFound: "task " + t.containerID + " not found: not found", serverText: "task " + t.containerID + " not found", exit: exit}, func(p *C.lcd_task) uint32 {
		return uint32(C.lcd_task_pid(p))
	})
}

// Start starts the task (one RPC; a prepared task is created first, two RPCs). A failed start
// deletes the task; a failed create leaves Pid at 0 and removes the FIFOs.
//
// A task the library deleted after its failed start (its exit is known) is retired as by
// Delete: later calls fail with containerd's not-found text, as they would with moby's client.
func (t *Task) Start(ctx context.Context) error {
	err := t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_start_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
	if err != nil && t.Pid() != 0 {
		if exit, deleted := t.Exited(); deleted {
			t.retire(exit)
		}
	}
	return err
}

// Exited reports the task's exit if the event stream has delivered it, or Delete returned it
// (no RPC, no wait).
func (t *Task) Exited() (exit Exit, ok bool) {
	if t.h.use(func(p *C.lcd_task) error {
		var code C.uint32_t
		var at C.int64_t
		ok = bool(C.lcd_task_exited(p, &code, &at))
		exit = Exit{Code: uint32(code), ExitedAt: timeFromNanos(at)}
		return nil
	}) != nil {
		return t.h.afterDelete().exitAfter() // not exited for a handle closed without a delete
	}
	return exit, ok
}

// Kill signals the init process (one RPC).
func (t *Task) Kill(ctx context.Context, signal uint32) error {
	return t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_kill_async(p, C.uint32_t(signal), cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
}

// Pause freezes the task (one RPC).
func (t *Task) Pause(ctx context.Context) error {
	return t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_pause_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
}

// Resume thaws the task (one RPC).
func (t *Task) Resume(ctx context.Context) error {
	return t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_resume_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
}

// Resize sets the terminal size (one RPC).
func (t *Task) Resize(ctx context.Context, width, height uint32) error {
	return t.h.call(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, cerr **C.lcd_error) uint32 {
		return C.lcd_task_resize(p, C.uint32_t(width), C.uint32_t(height), cancel, cerr)
	})
}

// CloseStdin closes the init process's stdin (one RPC).
func (t *Task) CloseStdin(ctx context.Context) error {
	return t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_close_stdin_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
}

// UpdateResources sends a LinuxResources JSON document as it is (one RPC).
func (t *Task) UpdateResources(ctx context.Context, resourcesJSON []byte) error {
	return t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		rp, rl := bytesArg(resourcesJSON)
		return C.lcd_task_update_resources_async(p, rp, rl, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
}

// Checkpoint dumps the task into dir with CRIU.
func (t *Task) Checkpoint(ctx context.Context, dir string, exit bool) error {
	return t.h.call(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, cerr **C.lcd_error) uint32 {
		dp, dl := stringArg(dir)
		return C.lcd_task_create_checkpoint(p, dp, dl, C.bool(exit), cancel, cerr)
	})
}

// Status is the task's state and exit (one RPC).
func (t *Task) Status(ctx context.Context) (st ProcessStatus, err error) {
	err = t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_get_status_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		var s C.lcd_task_status
		rc := C.lcd_pending_finish_status(pending, &s, cerr)
		st = processStatus(s)
		return rc
	})
	return st, err
}

// Wait blocks until the task exits (event stream; no RPC). After Delete it returns the exit.
func (t *Task) Wait(ctx context.Context) (Exit, error) {
	exit, err := t.h.asyncExitCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_wait_async(p, cancel, out, cerr)
	})
	if err != nil {
		if r := t.h.afterDelete(); r != nil {
			return r.exit, nil
		}
	}
	return exit, err
}

// Delete deletes the stopped task and removes its FIFOs (one RPC), then frees the handle: later
// calls fail with NotFound, and Pid, Exited and Wait answer from what Delete learnt.
func (t *Task) Delete(ctx context.Context) (Exit, error) {
	exit, err := t.h.asyncExitCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_delete_async(p, cancel, out, cerr)
	})
	if err == nil {
		t.retire(exit)
	}
	return exit, err
}

// ForceDelete kills everything in the task, waits for its exit, deletes it (two RPCs) and frees
// the handle as Delete does.
func (t *Task) ForceDelete(ctx context.Context) (Exit, error) {
	exit, err := t.h.asyncExitCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_force_delete_async(p, cancel, out, cerr)
	})
	if err == nil {
		t.retire(exit)
	}
	return exit, err
}

// Pids lists the task's processes with containerd's info payloads (one RPC).
func (t *Task) Pids(ctx context.Context) (out []ProcessInfo, err error) {
	err = t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_pids_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		var list *C.lcd_pids
		rc := C.lcd_pending_finish_pids(pending, &list, cerr)
		if rc != C.LCD_OK {
			return rc
		}
		defer C.lcd_pids_free(list)
		n := int(C.lcd_pids_count(list))
		out = make([]ProcessInfo, n)
		for i := 0; i < n; i++ {
			out[i].Pid = uint32(C.lcd_pids_pid(list, C.size_t(i)))
			var url *C.char
			var data *C.uint8_t
			var size C.size_t
			if C.lcd_pids_info(list, C.size_t(i), &url, &data, &size) {
				out[i].InfoTypeURL = C.GoString(url)
				out[i].Info = C.GoBytes(unsafe.Pointer(data), C.int(size))
			}
		}
		return rc
	})
	return out, err
}

// Stats reads the task's stats (one RPC).
func (t *Task) Stats(ctx context.Context) (st Stats, err error) {
	err = t.h.asyncCall(ctx, func(p *C.lcd_task, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_task_stats_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		var s *C.lcd_stats
		rc := C.lcd_pending_finish_stats(pending, &s, cerr)
		if rc != C.LCD_OK {
			return rc
		}
		defer C.lcd_stats_free(s)
		var size C.size_t
		data := C.lcd_stats_payload(s, &size)
		f := C.lcd_stats_get_figures(s)
		st = Stats{
			Read:    timeFromNanos(C.lcd_stats_read_unix_nanos(s)),
			TypeURL: C.GoString(C.lcd_stats_type_url(s)),
			Payload: C.GoBytes(unsafe.Pointer(data), C.int(size)),
			Figures: StatsFigures{
				CgroupVersion: uint8(f.cgroup_version), CPUUsageNs: uint64(f.cpu_usage_ns),
				MemoryUsageBytes: uint64(f.memory_usage_bytes), MemoryLimitBytes: uint64(f.memory_limit_bytes),
				PidsCurrent: uint64(f.pids_current), PidsLimit: uint64(f.pids_limit),
			},
		}
		return rc
	})
	return st, err
}

// Close frees the handle; the containerd task is not touched. Idempotent.
func (t *Task) Close() error {
	t.h.close()
	return nil
}

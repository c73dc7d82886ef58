#![no_main]
//! A state-machine fuzzer of the C ABI against a real containerd (the test bed: needs
//! LCD_CONTAINERD_SOCKET and LCD_TEST_ROOTFS, as `tests/testbed.sh env` prints them).
//!
//! Each input is a list of calls (create, load, task create/prepare/attach, start, exec,
//! kill, wait, status, delete, force delete, free) on three container ids, split between two
//! threads that run at once and share the handles, as a C host may. The host's own rules are
//! kept (a handle is not freed while another thread is inside a call with it: each slot is a
//! read-write lock, calls hold it shared, frees exclusively), everything else is fair game.
//! Checked: no crash or sanitizer report, every call returns within its deadline, every
//! failure has a status in range and a message, and afterwards the library's own calls remove
//! every container, task and bundle the input made.
use std::ffi::CStr;
use std::ptr;
use std::sync::{OnceLock, RwLock};
use std::time::{Duration, Instant};

use libcontainerd_capi::client::*;
use libcontainerd_capi::container::*;
use libcontainerd_capi::process::*;
use libcontainerd_capi::task::*;
use libcontainerd_capi::*;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/busybox_spec.rs"]
mod busybox_spec;
use busybox_spec::busybox_spec;

const CONTAINERS: usize = 3;
const MAX_CALLS: usize = 24;
/// The deadline every call gets; a call that is not back this long after it must have hung.
const CALL_DEADLINE_MS: u64 = 8_000;
const WAIT_DEADLINE_MS: u64 = 1_500;
const HANG_SLACK: Duration = Duration::from_secs(10);

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Command {
    True,
    Sleep,
    Exit3,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Call {
    Create { command: Command, terminal: bool },
    Load,
    TaskCreate { stdin: bool },
    TaskPrepare { stdin: bool },
    ContainerTask { attach: bool },
    TaskStart,
    TaskKill { sigkill: bool },
    TaskWait,
    TaskStatus,
    TaskDelete,
    TaskForceDelete,
    Exec { sleep: bool, prepared: bool, exec: u8 },
    ProcessStart,
    ProcessKill,
    ProcessWait,
    ProcessDelete,
    ContainerDelete,
    FreeContainer,
    FreeTask,
    FreeProcess,
}

#[derive(Arbitrary, Debug)]
struct Step {
    thread: bool,
    container: u8,
    call: Call,
}

/// A raw handle shared between the threads; the slot's lock keeps the host's rules.
struct Slot<T>(RwLock<*mut T>);
unsafe impl<T> Send for Slot<T> {}
unsafe impl<T> Sync for Slot<T> {}
impl<T> Slot<T> {
    fn new() -> Self {
        Slot(RwLock::new(ptr::null_mut()))
    }
}

struct Handles {
    containers: Vec<Slot<lcd_container>>,
    tasks: Vec<Slot<lcd_task>>,
    processes: Vec<Slot<lcd_process>>,
}

struct Bed {
    client: *mut lcd_client,
    namespace: String,
    state_dir: String,
    rootfs: String,
}
unsafe impl Send for Bed {}
unsafe impl Sync for Bed {}

fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        let socket = std::env::var("LCD_CONTAINERD_SOCKET").expect("LCD_CONTAINERD_SOCKET: run under tests/testbed.sh");
        let rootfs = std::env::var("LCD_TEST_ROOTFS").expect("LCD_TEST_ROOTFS: run under tests/testbed.sh");
        let namespace = format!("lcdfuzz-{}", std::process::id());
        let state_dir = std::env::temp_dir().join(format!("lcd-fuzz-state-{}", std::process::id())).to_string_lossy().into_owned();
        let mut client = ptr::null_mut();
        let mut err = ptr::null_mut();
        let status = unsafe {
            lcd_client_connect(socket.as_ptr(), socket.len(), namespace.as_ptr(), namespace.len(), state_dir.as_ptr(), state_dir.len(), ptr::null(), &mut client, &mut err)
        };
        assert_eq!(status, lcd_status::LCD_OK, "connect to the test bed: {}", message(err));
        Bed { client, namespace, state_dir, rootfs }
    })
}

fn message(err: *mut lcd_error) -> String {
    if err.is_null() {
        return "(no error object)".into();
    }
    let text = unsafe { CStr::from_ptr(lcd_error_message(err)) }.to_string_lossy().into_owned();
    unsafe { lcd_error_free(err) };
    text
}

/// The busybox spec of every test (`tests/fixtures/busybox_spec.json`) running the command.
fn spec(id: &str, command: Command, terminal: bool) -> String {
    let bed = bed();
    let args: &[&str] = match command {
        Command::True => &["true"],
        Command::Sleep => &["sleep", "1000"],
        Command::Exit3 => &["sh", "-c", "exit 3"],
    };
    busybox_spec(&bed.rootfs, args, terminal, id, &format!("/lcd-fuzz/{}-{id}", bed.namespace)).to_string()
}

fn container_id(index: usize) -> String {
    format!("fz{index}")
}

/// Runs one library call with a fresh deadline, and checks what the C ABI promises of any call.
fn call(what: &str, deadline_ms: u64, body: impl FnOnce(*const lcd_cancel, *mut *mut lcd_error) -> lcd_status) -> lcd_status {
    let cancel = lcd_cancel_new(deadline_ms);
    let mut err = ptr::null_mut();
    let started = Instant::now();
    let status = body(cancel, &mut err);
    let took = started.elapsed();
    unsafe { lcd_cancel_free(cancel) };
    assert!(took <= Duration::from_millis(deadline_ms) + HANG_SLACK, "{what} hung: {took:?} with a {deadline_ms} ms deadline");
    if status == lcd_status::LCD_OK {
        assert!(err.is_null(), "{what}: an error object on success");
    } else {
        assert!(!err.is_null(), "{what}: {status:?} without an error object");
        let status_in_error = unsafe { lcd_error_status(err) };
        assert_eq!(status_in_error, status, "{what}: the error object's status differs from the returned one");
        let text = message(err);
        assert!(!text.is_empty() && text.len() < 4096, "{what}: {status:?} with message {text:?}");
        assert_ne!(status, lcd_status::LCD_INTERNAL, "{what}: internal error (a panic or a broken invariant): {text}");
    }
    status
}

/// Puts `new` into the slot (freeing what was there: the host replaces its handle).
fn store<T>(slot: &Slot<T>, new: *mut T, free: unsafe extern "C" fn(*mut T)) {
    let mut held = slot.0.write().unwrap();
    let old = std::mem::replace(&mut *held, new);
    unsafe { free(old) };
}

fn run_step(handles: &Handles, step: &Step) {
    let index = step.container as usize % CONTAINERS;
    let id = container_id(index);
    let container_slot = &handles.containers[index];
    let task_slot = &handles.tasks[index];
    let process_slot = &handles.processes[index];
    let bed = bed();
    let mut code = 0u32;
    let mut at = 0i64;
    match step.call {
        Call::Create { command, terminal } => {
            let spec = spec(&id, command, terminal);
            let runtime = "io.containerd.runc.v2";
            let mut out = ptr::null_mut();
            let status = call("container create", CALL_DEADLINE_MS, |cancel, err| unsafe {
                lcd_container_create(
                    bed.client, id.as_ptr(), id.len(), spec.as_ptr(), spec.len(), runtime.as_ptr(), runtime.len(),
                    ptr::null(), 0, ptr::null(), 0, ptr::null(), 0, ptr::null(), 0, cancel, &mut out, err,
                )
            });
            if status == lcd_status::LCD_OK {
                store(container_slot, out, lcd_container_free);
            }
        }
        Call::Load => {
            let mut out = ptr::null_mut();
            if call("container load", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_container_load(bed.client, id.as_ptr(), id.len(), cancel, &mut out, err) }) == lcd_status::LCD_OK {
                store(container_slot, out, lcd_container_free);
            }
        }
        Call::TaskCreate { stdin } | Call::TaskPrepare { stdin } | Call::ContainerTask { attach: stdin } => {
            let container = container_slot.0.read().unwrap();
            let mut out = ptr::null_mut();
            let status = match step.call {
                Call::TaskCreate { .. } => call("task create", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_task_create(*container, stdin, cancel, &mut out, err) }),
                Call::TaskPrepare { .. } => call("task prepare", CALL_DEADLINE_MS, |_, err| unsafe { lcd_task_prepare(*container, stdin, &mut out, err) }),
                _ => call("container task", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_container_task(*container, stdin, cancel, &mut out, err) }),
            };
            drop(container);
            if status == lcd_status::LCD_OK {
                store(task_slot, out, lcd_task_free);
            }
        }
        Call::TaskStart => {
            let task = task_slot.0.read().unwrap();
            call("task start", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_task_start(*task, cancel, err) });
        }
        Call::TaskKill { sigkill } => {
            let task = task_slot.0.read().unwrap();
            let signal = if sigkill { libc::SIGKILL } else { libc::SIGTERM } as u32;
            call("task kill", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_task_kill(*task, signal, cancel, err) });
        }
        Call::TaskWait => {
            let task = task_slot.0.read().unwrap();
            call("task wait", WAIT_DEADLINE_MS, |cancel, err| unsafe { lcd_task_wait(*task, cancel, &mut code, &mut at, err) });
        }
        Call::TaskStatus => {
            let task = task_slot.0.read().unwrap();
            let mut status = lcd_task_status { state: lcd_process_state::LCD_STATE_UNKNOWN, exit_code: 0, exited_at_unix_nanos: 0 };
            call("task status", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_task_get_status(*task, cancel, &mut status, err) });
        }
        Call::TaskDelete => {
            let task = task_slot.0.read().unwrap();
            call("task delete", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_task_delete(*task, cancel, &mut code, &mut at, err) });
        }
        Call::TaskForceDelete => {
            let task = task_slot.0.read().unwrap();
            call("task force delete", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_task_force_delete(*task, cancel, &mut code, &mut at, err) });
        }
        Call::Exec { sleep, prepared, exec } => {
            let exec_id = format!("e{}", exec % 2);
            let args = if sleep { r#"["sleep","1000"]"# } else { r#"["true"]"# };
            let process_json = format!(r#"{{"terminal":false,"user":{{"uid":0,"gid":0}},"args":{args},"env":["PATH=/bin"],"cwd":"/"}}"#);
            let task = task_slot.0.read().unwrap();
            let mut out = ptr::null_mut();
            let status = if prepared {
                call("prepare exec", CALL_DEADLINE_MS, |_, err| unsafe {
                    lcd_task_prepare_exec(*task, exec_id.as_ptr(), exec_id.len(), process_json.as_ptr(), process_json.len(), false, &mut out, err)
                })
            } else {
                call("exec", CALL_DEADLINE_MS, |cancel, err| unsafe {
                    lcd_task_exec(*task, exec_id.as_ptr(), exec_id.len(), process_json.as_ptr(), process_json.len(), false, cancel, &mut out, err)
                })
            };
            drop(task);
            if status == lcd_status::LCD_OK {
                store(process_slot, out, lcd_process_free);
            }
        }
        Call::ProcessStart => {
            let process = process_slot.0.read().unwrap();
            call("process start", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_process_start(*process, cancel, err) });
        }
        Call::ProcessKill => {
            let process = process_slot.0.read().unwrap();
            call("process kill", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_process_kill(*process, libc::SIGKILL as u32, cancel, err) });
        }
        Call::ProcessWait => {
            let process = process_slot.0.read().unwrap();
            call("process wait", WAIT_DEADLINE_MS, |cancel, err| unsafe { lcd_process_wait(*process, cancel, &mut code, &mut at, err) });
        }
        Call::ProcessDelete => {
            let process = process_slot.0.read().unwrap();
            call("process delete", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_process_delete(*process, cancel, &mut code, &mut at, err) });
        }
        Call::ContainerDelete => {
            let container = container_slot.0.read().unwrap();
            call("container delete", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_container_delete(*container, cancel, err) });
        }
        Call::FreeContainer => store(container_slot, ptr::null_mut(), lcd_container_free),
        Call::FreeTask => store(task_slot, ptr::null_mut(), lcd_task_free),
        Call::FreeProcess => store(process_slot, ptr::null_mut(), lcd_process_free),
    }
}

/// Removes what the input left, with the library's own calls, and checks that nothing stays.
fn clean_up(handles: Handles) {
    for slot in handles.processes.into_iter().chain([]) {
        unsafe { lcd_process_free(slot.0.into_inner().unwrap()) };
    }
    for slot in handles.tasks {
        unsafe { lcd_task_free(slot.0.into_inner().unwrap()) };
    }
    for slot in handles.containers {
        unsafe { lcd_container_free(slot.0.into_inner().unwrap()) };
    }
    let bed = bed();
    let (mut code, mut at) = (0u32, 0i64);
    for index in 0..CONTAINERS {
        let id = container_id(index);
        let mut container = ptr::null_mut();
        let status = call("clean-up load", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_container_load(bed.client, id.as_ptr(), id.len(), cancel, &mut container, err) });
        if status == lcd_status::LCD_NOT_FOUND {
            continue;
        }
        assert_eq!(status, lcd_status::LCD_OK, "clean-up: load {id}");
        let mut task = ptr::null_mut();
        let status = call("clean-up task", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_container_task(container, false, cancel, &mut task, err) });
        if status == lcd_status::LCD_OK {
            let deleted = call("clean-up force delete", CALL_DEADLINE_MS * 2, |cancel, err| unsafe { lcd_task_force_delete(task, cancel, &mut code, &mut at, err) });
            assert!(matches!(deleted, lcd_status::LCD_OK | lcd_status::LCD_NOT_FOUND), "clean-up: force delete of {id}'s task: {deleted:?}");
            unsafe { lcd_task_free(task) };
        } else {
            assert_eq!(status, lcd_status::LCD_NOT_FOUND, "clean-up: task of {id}");
        }
        let deleted = call("clean-up container delete", CALL_DEADLINE_MS, |cancel, err| unsafe { lcd_container_delete(container, cancel, err) });
        assert!(matches!(deleted, lcd_status::LCD_OK | lcd_status::LCD_NOT_FOUND), "clean-up: delete {id}: {deleted:?}");
        unsafe { lcd_container_free(container) };
    }
    let left: Vec<_> = std::fs::read_dir(&bed.state_dir).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "bundles left in {} after every container was deleted: {left:?}", bed.state_dir);
}

fuzz_target!(|steps: Vec<Step>| {
    let steps = &steps[..steps.len().min(MAX_CALLS)];
    let handles = Handles {
        containers: (0..CONTAINERS).map(|_| Slot::new()).collect(),
        tasks: (0..CONTAINERS).map(|_| Slot::new()).collect(),
        processes: (0..CONTAINERS).map(|_| Slot::new()).collect(),
    };
    std::thread::scope(|scope| {
        for thread in [false, true] {
            let handles = &handles;
            scope.spawn(move || {
                for step in steps.iter().filter(|s| s.thread == thread) {
                    run_step(handles, step);
                }
            });
        }
    });
    clean_up(handles);
});

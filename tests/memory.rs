//! The library keeps no memory per lifecycle: after a warm-up, hundreds more lifecycles on
//! eight threads leave the heap it holds where it was. Counted with a global allocator in this
//! test binary (its only test), so nothing else allocates meanwhile.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use libcontainerd::{Client, Task};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const THREADS: usize = 8;

/// `per_thread` lifecycles on each of eight threads; ids start with `phase`.
fn lifecycles(client: &Arc<Client>, phase: &str, per_thread: usize) {
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let client = client.clone();
            let phase = phase.to_owned();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let id = format!("{phase}-{t}-{i}");
                    let container = create_container(&client, &id, &["true"], false).unwrap_or_else(|e| panic!("{id}: {e}"));
                    let task = run(Task::create(&container, false)).unwrap_or_else(|e| panic!("{id}: {e}"));
                    run(task.start()).unwrap_or_else(|e| panic!("{id}: {e}"));
                    assert_eq!(run(task.wait()).unwrap().code, 0, "{id}");
                    run(task.delete()).unwrap_or_else(|e| panic!("{id}: {e}"));
                    run(container.delete()).unwrap_or_else(|e| panic!("{id}: {e}"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a lifecycle thread failed");
    }
}

/// Live heap once the runtime has finished what the last calls left (event deliveries, exit
/// waits, connection bookkeeping): the count has not moved for 500 ms, or 10 s have passed. On
/// a loaded machine that work can lag the calls by more than a fixed pause.
fn live() -> (isize, isize) {
    let read = || (LIVE_BYTES.load(Ordering::SeqCst), LIVE_BLOCKS.load(Ordering::SeqCst));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut last = read();
    let mut stable_since = std::time::Instant::now();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = read();
        if now.1 != last.1 {
            (last, stable_since) = (now, std::time::Instant::now());
        } else if stable_since.elapsed() >= Duration::from_millis(500) {
            break;
        }
    }
    read()
}

#[test]
fn hundreds_of_lifecycles_on_eight_threads_leave_the_heap_where_it_was() {
    let client = Arc::new(client("memory"));
    // Warm-up: the runtime, the connection, h2's stream store and the allocator's per-thread
    // state reach their working size.
    lifecycles(&client, "warm", 6);
    let (bytes_before, blocks_before) = live();
    lifecycles(&client, "more", 24);
    let (bytes_after, blocks_after) = live();
    let (bytes, blocks) = (bytes_after - bytes_before, blocks_after - blocks_before);
    eprintln!(
        "live heap: {bytes_before} bytes in {blocks_before} blocks before, {bytes_after} in {blocks_after} after {} lifecycles",
        THREADS * 24
    );
    // Anything kept per lifecycle would add at least one block each: 192 here. What is not a
    // leak stays well under that: buffers and queues that grew to the load's peak (up to 38
    // blocks seen on a machine with a load average of 20).
    assert!(blocks < 48, "the heap gained {blocks} blocks ({bytes} bytes) over {} lifecycles", THREADS * 24);
    assert!(bytes < 16 * 1024, "the heap gained {bytes} bytes ({blocks} blocks) over {} lifecycles", THREADS * 24);
}

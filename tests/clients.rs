//! Clients come and go without leaving threads behind. (Its own test binary: it counts the
//! process's threads.)

mod common;

use std::time::Duration;

use common::*;

#[test]
fn freed_clients_leave_no_threads_behind() {
    let count = || std::fs::read_dir("/proc/self/task").unwrap().count();
    run(client("threads-warmup").version()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let before = count();
    for i in 0..50 {
        let client = client(&format!("threads{i}"));
        run(client.version()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(count(), before, "clients and their event pumps are gone once freed");
}

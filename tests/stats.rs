//! Task stats against the real containerd of the test bed.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use libcontainerd::containerd::Rpc;
use libcontainerd::metrics::decode_figures;
use libcontainerd::{ErrorKind, Task};

#[test]
fn stats_report_real_cgroup_figures_with_one_rpc() {
    let client = client("stats");
    let container = create_container(&client, "busy", &["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let (metrics_before, total_before) = (client.rpc_counts().get(Rpc::TasksMetrics), client.rpc_counts().total());
    let stats = run(task.stats()).unwrap();
    assert_eq!(client.rpc_counts().get(Rpc::TasksMetrics) - metrics_before, 1);
    assert_eq!(client.rpc_counts().total() - total_before, 1, "Tasks.Metrics and nothing else");
    assert_eq!(decode_figures(&stats.type_url, &stats.payload).unwrap(), stats.figures, "figures come from the payload returned");
    assert!(!stats.payload.is_empty());
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").is_dir();
    let expected_type = if v1 { "io.containerd.cgroups.v1.Metrics" } else { "io.containerd.cgroups.v2.Metrics" };
    assert!(stats.type_url.ends_with(expected_type), "{}", stats.type_url);
    let f = stats.figures;
    assert_eq!(f.cgroup_version, if v1 { 1 } else { 2 });
    assert!(f.cpu_usage_ns > 0, "{f:?}");
    assert!(f.memory_usage_bytes > 0 && f.memory_limit_bytes > 0, "{f:?}");
    assert!(f.pids_current >= 1, "{f:?}");
    let read = stats.read.expect("containerd stamps the sample");
    assert!(SystemTime::now().duration_since(read).unwrap_or_default() < Duration::from_secs(60));

    run(task.update_resources(br#"{"memory":{"limit":67108864}}"#)).unwrap();
    assert_eq!(run(task.stats()).unwrap().figures.memory_limit_bytes, 64 << 20, "the update shows in the stats");

    run(task.force_delete()).unwrap();
    let (get_before, total_before) = (client.rpc_counts().get(Rpc::TasksGet), client.rpc_counts().total());
    let err = run(task.stats()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(client.rpc_counts().get(Rpc::TasksGet) - get_before, 1, "no sample: Tasks.Get tells a missing task");
    assert_eq!(client.rpc_counts().total() - total_before, 2);
    run(container.delete()).unwrap();
}

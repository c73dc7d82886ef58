//! Task stats against the real containerd of the test bed.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use libcontainerd::containerd::Rpc;
use libcontainerd::stats::decode_figures;
use libcontainerd::{Container, ErrorKind, Task};

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

/// Three running tasks with their own memory limits, through one client.
fn three_tasks_with_their_own_limits(
    client: &libcontainerd::Client,
    prefix: &str,
) -> Vec<(Task, u64, Container)> {
    (1..=3u64)
        .map(|i| {
            let container =
                create_container(client, &format!("{prefix}{i}"), &["sleep", "1000"], false)
                    .unwrap();
            let task = run(Task::create(&container, false)).unwrap();
            run(task.start()).unwrap();
            let limit = (16 + 16 * i) << 20;
            run(task.update_resources(format!(r#"{{"memory":{{"limit":{limit}}}}}"#).as_bytes()))
                .unwrap();
            (task, limit, container)
        })
        .collect()
}

fn remove_tasks(tasks: Vec<(Task, u64, Container)>) {
    for (task, _, container) in tasks {
        run(task.force_delete()).unwrap();
        run(container.delete()).unwrap();
    }
}

/// One stats round: each task asked once, in turn, as moby's stats collector does. Returns the
/// Tasks.Metrics requests it took, and checks each sample is its own task's.
fn stats_round(client: &libcontainerd::Client, tasks: &[(Task, u64, Container)]) -> u64 {
    let before = client.rpc_counts().get(Rpc::TasksMetrics);
    let asked = SystemTime::now();
    for (task, limit, _) in tasks {
        let stats = run(task.stats()).unwrap();
        assert_eq!(
            stats.figures.memory_limit_bytes,
            *limit,
            "the sample of {} is its own",
            task.container_id()
        );
        let read = stats.read.expect("containerd stamps the sample");
        let age = asked.duration_since(read).unwrap_or_default();
        assert!(
            age < Duration::from_millis(100),
            "a sample of {} read {age:?} before the round",
            task.container_id()
        );
    }
    client.rpc_counts().get(Rpc::TasksMetrics) - before
}

#[test]
fn a_stats_round_after_the_first_takes_one_request_for_every_task() {
    let client = client("stats-rounds");
    let tasks = three_tasks_with_their_own_limits(&client, "round");
    assert_eq!(
        stats_round(&client, &tasks),
        3,
        "the first round asks for each task"
    );
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(700));
        assert_eq!(
            stats_round(&client, &tasks),
            1,
            "a later round asks once, for every task polled"
        );
    }
    remove_tasks(tasks);
}

#[test]
fn concurrent_asks_of_a_later_round_share_one_request() {
    let client = client("stats-concurrent");
    let tasks = three_tasks_with_their_own_limits(&client, "together");
    stats_round(&client, &tasks);
    std::thread::sleep(Duration::from_millis(700));
    let before = client.rpc_counts().get(Rpc::TasksMetrics);
    std::thread::scope(|scope| {
        for (task, limit, _) in &tasks {
            scope.spawn(move || assert_eq!(run(task.stats()).unwrap().figures.memory_limit_bytes, *limit));
        }
    });
    assert_eq!(client.rpc_counts().get(Rpc::TasksMetrics) - before, 1, "asks at once wait for the request in flight");
    remove_tasks(tasks);
}

#[test]
fn a_change_in_a_stats_round_or_an_old_sample_gets_a_fresh_sample() {
    let client = client("stats-fresh");
    let tasks = three_tasks_with_their_own_limits(&client, "fresh");
    stats_round(&client, &tasks);
    std::thread::sleep(Duration::from_millis(700));
    let before = client.rpc_counts().get(Rpc::TasksMetrics);
    run(tasks[0].0.stats()).unwrap();
    assert_eq!(
        client.rpc_counts().get(Rpc::TasksMetrics) - before,
        1,
        "samples of all three fetched"
    );

    run(tasks[1]
        .0
        .update_resources(br#"{"memory":{"limit":134217728}}"#))
    .unwrap();
    let updated = run(tasks[1].0.stats()).unwrap();
    assert_eq!(
        updated.figures.memory_limit_bytes,
        128 << 20,
        "an update made after the sample shows"
    );
    assert_eq!(
        client.rpc_counts().get(Rpc::TasksMetrics) - before,
        2,
        "the updated task's own request"
    );

    std::thread::sleep(SAMPLE_OLDER_THAN_SERVED);
    run(tasks[2].0.stats()).unwrap();
    assert_eq!(
        client.rpc_counts().get(Rpc::TasksMetrics) - before,
        3,
        "a sample too old to serve is fetched again"
    );
    assert_eq!(
        run(tasks[2].0.stats()).unwrap().figures.memory_limit_bytes,
        tasks[2].1
    );
    assert_eq!(
        client.rpc_counts().get(Rpc::TasksMetrics) - before,
        4,
        "a sample is served once: a second ask asks again"
    );
    remove_tasks(tasks);
}

/// Longer than the library keeps a sample fetched ahead (100 ms).
const SAMPLE_OLDER_THAN_SERVED: Duration = Duration::from_millis(150);

//! rinit under a real Docker engine: a private dockerd (Debian's docker.io) started for this
//! file with its own data root, exec root and socket in a temporary folder, no networking, and
//! `--init-path` pointing at the static rinit. Images come from `docker import` of a tarball
//! (static busybox, rinit and the test helper) and from `docker build` of Dockerfile.example:
//! no registry. The engine, every container and image, and the folder are removed at the end.
//!
//! One engine serves every scenario: they run side by side in one test, each a function named
//! for what it shows, so that the engine's teardown always runs.

mod common;

use common::engine::Engine;
use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BUSYBOX: &str = "/bin/busybox";

/// One scenario: the engine, and the imported image's tag.
type Scenario = fn(&Engine, &str);

#[test]
fn docker_engine_scenarios() {
    let engine = Engine::start();
    let image = engine.import(&format!("rinit-test-{}:latest", std::process::id()));
    let scenarios: [(&str, Scenario); 10] = [
        (
            "docker stop -t 15 lets a command that needs 7 s to save finish",
            docker_stop_t_15_lets_a_7_s_saver_finish_and_exit_0,
        ),
        (
            "a shell-form CMD stops promptly with 143",
            a_shell_form_cmd_stops_promptly_with_143,
        ),
        (
            "docker run --init runs rinit as PID 1 docker-init",
            docker_run_init_runs_rinit_as_docker_init_and_passes_exit_codes,
        ),
        (
            "docker info reads rinit's version",
            docker_info_reads_the_inits_version,
        ),
        (
            "--init with RINIT_GRACE: an 8 s worker saves within docker stop -t 15",
            docker_run_init_with_rinit_grace_saves_a_background_workers_data,
        ),
        (
            "RINIT_USER in a scratch image without /etc/passwd",
            rinit_user_runs_the_command_as_a_numeric_user_in_a_scratch_image,
        ),
        (
            "STOPSIGNAL SIGQUIT with RINIT_STOP_SIGNAL=QUIT: a 7 s worker saves within docker stop -t 15",
            an_images_stop_signal_named_to_rinit_lets_a_worker_save,
        ),
        (
            "docker build of Dockerfile.example",
            docker_builds_the_example_and_stop_lets_the_worker_save,
        ),
        (
            "--user 4242:4242 --read-only --cap-drop ALL --security-opt no-new-privileges",
            locked_down_it_forwards_reaps_a_storm_and_docker_stop_lets_every_worker_save,
        ),
        (
            "rinit's own --user in a locked-down container",
            locked_down_rinits_own_user_fails_with_one_clear_line,
        ),
    ];
    let failures: Vec<String> = std::thread::scope(|scope| {
        let running: Vec<_> = scenarios
            .iter()
            .map(|(title, scenario)| {
                let engine = &engine;
                let image = image.as_str();
                (title, scope.spawn(move || scenario(engine, image)))
            })
            .collect();
        running
            .into_iter()
            .filter_map(|(title, handle)| handle.join().err().map(|_| title.to_string()))
            .collect()
    });
    assert!(failures.is_empty(), "failed: {failures:?}");
}

fn unique(what: &str) -> String {
    format!("rinit-{what}-{}", std::process::id())
}

fn docker_stop_t_15_lets_a_7_s_saver_finish_and_exit_0(engine: &Engine, image: &str) {
    let name = engine.run(
        &unique("saver"),
        &[image, "/rinit-testkit", "worker", "/dev/stdout", "7000"],
    );
    engine.wait_for_log(&name, "started");
    let took = engine.stop(&name, 15);
    assert_eq!(engine.logs(&name), "started\nsaved\n", "the data was saved");
    assert_eq!(engine.exit_code(&name), "0");
    assert!(took >= Duration::from_secs(7), "stopped after {took:?}");
}

fn a_shell_form_cmd_stops_promptly_with_143(engine: &Engine, image: &str) {
    let name = engine.run(
        &unique("shell-form"),
        &[image, "/bin/sh", "-c", "echo up; sleep 1000; echo never"],
    );
    engine.wait_for_log(&name, "up");
    let took = engine.stop(&name, 10);
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    assert_eq!(engine.exit_code(&name), "143");
}

fn docker_run_init_runs_rinit_as_docker_init_and_passes_exit_codes(engine: &Engine, image: &str) {
    let out = engine.output(&[
        "run",
        "--rm",
        "--init",
        "--network",
        "none",
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; /proc/1/exe --version; exit 7",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{stdout}");
    // Two lines of the scenario, not the scenario: said, but not counted as a skip.
    if under_qemu() {
        eprintln!("not checked under qemu-user: /proc/1/cmdline and /proc/1/exe are qemu's");
        return;
    }
    assert!(
        stdout.starts_with("/sbin/docker-init -- /bin/sh"),
        "{stdout}"
    );
    assert!(stdout.contains("rinit version "), "{stdout}");
}

fn docker_info_reads_the_inits_version(engine: &Engine, _image: &str) {
    let version = Command::new(rinit()).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let hash = version.trim().rsplit("git.").next().unwrap().to_string();
    let commit = engine.check(&["info", "--format", "{{.InitCommit.ID}}"]);
    assert_eq!(
        commit, hash,
        "docker info reads `rinit --version`: {version}"
    );
}

fn docker_run_init_with_rinit_grace_saves_a_background_workers_data(engine: &Engine, image: &str) {
    // The README's example. docker-init keeps tini's defaults: it exits with the command and
    // the worker dies with it, unless RINIT_GRACE gives the processes left their chance. The
    // grace does not bound the stop: the worker needs 8 s and docker's 15 s are its window.
    let script = "/rinit-testkit worker /dev/stdout 8000 & exec sleep 1000";
    for (grace, saved) in [(None, false), (Some("RINIT_GRACE=5s"), true)] {
        let name = unique(&format!("init-grace-{saved}"));
        let mut args = vec!["--init", "--entrypoint", "/bin/sh"];
        if let Some(grace) = grace {
            args.extend(["-e", grace]);
        }
        args.extend([image, "-c", script]);
        engine.run(&name, &args);
        engine.wait_for_log(&name, "started");
        let took = engine.stop(&name, 15);
        assert_eq!(
            engine.logs(&name).contains("saved"),
            saved,
            "{grace:?}: {}",
            engine.logs(&name)
        );
        assert_eq!(engine.exit_code(&name), "143", "the command's SIGTERM");
        if saved {
            assert!(took >= Duration::from_secs(8), "stopped after {took:?}");
            assert!(took < Duration::from_secs(14), "docker's SIGKILL? {took:?}");
        }
    }
}

fn an_images_stop_signal_named_to_rinit_lets_a_worker_save(engine: &Engine, image: &str) {
    // The README's nginx case: docker stop sends the container's stop signal, SIGQUIT, and the
    // command exits on it. Unless rinit knows SIGQUIT means stop, that exit looks natural and
    // the 5 s grace SIGKILLs the worker, which needs 7 s, inside docker's 15 s.
    let script = "/rinit-testkit worker /dev/stdout 7000 & \
                  trap 'exit 0' QUIT; echo up; while :; do sleep 0.1; done";
    for (env, saved) in [(None, false), (Some("RINIT_STOP_SIGNAL=QUIT"), true)] {
        let name = unique(&format!("stop-signal-{saved}"));
        let mut args = vec!["--stop-signal", "SIGQUIT"];
        if let Some(env) = env {
            args.extend(["-e", env]);
        }
        args.extend([image, "/bin/sh", "-c", script]);
        engine.run(&name, &args);
        engine.wait_for_log(&name, "started");
        engine.wait_for_log(&name, "up");
        let took = engine.stop(&name, 15);
        assert_eq!(
            engine.logs(&name).contains("saved"),
            saved,
            "{env:?}: {}",
            engine.logs(&name)
        );
        assert_eq!(engine.exit_code(&name), "0", "the command's own exit");
        if saved {
            assert!(took >= Duration::from_secs(7), "stopped after {took:?}");
            assert!(took < Duration::from_secs(14), "docker's SIGKILL? {took:?}");
        }
    }
}

fn rinit_user_runs_the_command_as_a_numeric_user_in_a_scratch_image(engine: &Engine, image: &str) {
    // The imported image has no /etc at all; numeric ids need no entry.
    let out = engine.output(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        "RINIT_USER=4242:4242",
        image,
        "/rinit-testkit",
        "show",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let shown = shown(&stdout);
    assert_eq!(shown["uid"], "4242,4242,4242,4242", "{shown:?}");
    assert_eq!(shown["gid"], "4242,4242,4242,4242", "{shown:?}");
    assert_eq!(shown["groups"], "4242", "none of root's: {shown:?}");
    assert_eq!(shown["home"], "/", "{shown:?}");
    assert_eq!(shown["capeff"], "0000000000000000", "{shown:?}");
}

fn docker_builds_the_example_and_stop_lets_the_worker_save(engine: &Engine, _image: &str) {
    let context = Scratch::new("docker-context");
    fs::copy(rinit(), context.0.join("rinit")).unwrap();
    fs::copy(BUSYBOX, context.0.join("busybox")).unwrap();
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile.example");
    let tag = format!("rinit-example-{}:latest", std::process::id());
    engine.made.lock().unwrap().push(("rmi", tag.clone()));
    engine.check(&[
        "build",
        "--quiet",
        "--file",
        &dockerfile.display().to_string(),
        "--tag",
        &tag,
        &context.0.display().to_string(),
    ]);
    let name = engine.run(&unique("example"), &[&tag]);
    engine.wait_for_log(&name, "worker: started");
    let took = engine.stop(&name, 10);
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    assert!(engine.logs(&name).contains("worker: saved"));
    assert_eq!(engine.exit_code(&name), "0");
}

/// `docker run`'s flags for a locked-down container: an ordinary user, a read-only root
/// filesystem, no capability, no_new_privs.
const LOCKED_DOWN: [&str; 7] = [
    "--user",
    "4242:4242",
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
];

/// A shell that says `LABEL: started`, and on SIGTERM `LABEL: saved` and exits 0.
fn saver(label: &str) -> String {
    format!(
        "trap 'echo {label}: saved; exit 0' TERM; echo {label}: started; \
         while :; do sleep 0.1; done"
    )
}

fn locked_down_it_forwards_reaps_a_storm_and_docker_stop_lets_every_worker_save(
    engine: &Engine,
    image: &str,
) {
    // A worker in the command's group, one that called setsid, 3000 orphans, and a command
    // that notes each SIGWINCH and dies of SIGTERM. Everything writes to the log only.
    let script = format!(
        "({group}) & /bin/busybox setsid /bin/sh -c \"{setsid}\" & \
         /rinit-testkit orphans 3000 && /rinit-testkit zombies 20; \
         trap 'echo got WINCH' WINCH; echo up; while :; do sleep 0.1; done",
        group = saver("group"),
        setsid = saver("setsid"),
    );
    let mut args = LOCKED_DOWN.to_vec();
    args.extend([image, "/bin/sh", "-c", &script]);
    let name = engine.run(&unique("locked-down"), &args);
    // 3000 orphans reaped by an emulated rinit (qemu-user) on a loaded machine: minutes.
    for line in ["group: started", "setsid: started", "up"] {
        engine.wait_for_log_within(&name, line, Duration::from_secs(180));
    }
    assert!(
        engine.logs(&name).contains("zombies=0\n"),
        "{}",
        engine.logs(&name)
    );
    let pid: i32 = engine
        .check(&["inspect", "--format", "{{.State.Pid}}", &name])
        .parse()
        .unwrap();
    assert_locked_down(pid, 4242);
    assert!(root_is_read_only(pid), "the root filesystem is writable");
    // docker kill signals PID 1, rinit, which forwards.
    engine.check(&["kill", "--signal", "WINCH", &name]);
    engine.wait_for_log(&name, "got WINCH");
    let took = engine.stop(&name, 15);
    let logs = engine.logs(&name);
    assert!(logs.contains("group: saved"), "{logs}");
    assert!(logs.contains("setsid: saved"), "{logs}");
    assert_eq!(
        engine.exit_code(&name),
        "143",
        "the command died of SIGTERM: {logs}"
    );
    assert!(took < Duration::from_secs(10), "docker's SIGKILL? {took:?}");
}

fn locked_down_rinits_own_user_fails_with_one_clear_line(engine: &Engine, image: &str) {
    // Switching users needs root's CAP_SETUID and CAP_SETGID; a locked-down rinit has
    // neither, and says so before it runs anything.
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend(LOCKED_DOWN);
    args.extend(["--entrypoint", "/rinit", image, "--user", "1000", "--"]);
    args.extend(["/bin/sh", "-c", "echo ran"]);
    let out = engine.output(&args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "nothing ran");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rinit: --user 1000: setgroups: operation not permitted \
         (it needs root with CAP_SETUID and CAP_SETGID)\n"
    );
}

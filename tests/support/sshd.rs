//! Real OpenSSH servers for tests and benchmarks, never touching the machine's own ssh setup.
//!
//! [`Sshd::start`] runs `/usr/sbin/sshd -D -e` on 127.0.0.1 and a free port, with its own host
//! key, a fresh client key in its own `authorized_keys`, and a client `ssh_config` (identity,
//! a temporary `known_hosts` that already holds the server's key, `BatchMode`). Point a host at
//! it with `[ssh] config = sshd.client_config()` and `ssh = sshd.destination()`.
//!
//! [`NetnsHost::start`] puts such a server in its own network namespace behind a veth pair
//! (`10.200.N.1` here, `10.200.N.2` there), so a test can cut the network with
//! [`NetnsHost::link_down`]: packets are dropped silently, as when a cable is pulled.
//!
//! Servers are stopped by pid ([`Sshd::stop`], on drop): the listener and every process
//! under it (connections and their sessions), like a host going down. [`Sshd::restart`] then
//! brings it back on the same address with the same keys, like a reboot.
//!
//! Tests run as root (sshd needs it); the module is shared by several test crates.

#![allow(dead_code)]

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// Options for a server; [`Sshd::start`] uses the defaults.
#[derive(Debug, Clone)]
pub struct SshdBuilder {
    listen: IpAddr,
    port: Option<u16>,
    netns: Option<String>,
    extra_config: String,
}

impl Default for SshdBuilder {
    fn default() -> Self {
        SshdBuilder {
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: None,
            netns: None,
            extra_config: String::new(),
        }
    }
}

impl SshdBuilder {
    /// The address to listen on (default 127.0.0.1).
    pub fn listen(mut self, addr: IpAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The port (default: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Lines appended to `sshd_config`, e.g. `SetEnv PATH=/nonexistent`.
    pub fn extra_config(mut self, lines: &str) -> Self {
        self.extra_config.push_str(lines);
        self.extra_config.push('\n');
        self
    }

    fn netns(mut self, name: &str) -> Self {
        self.netns = Some(name.to_string());
        self
    }

    pub fn start(self) -> Sshd {
        ensure_privsep_dir();
        let dir = tempfile::Builder::new()
            .prefix("runbook-sshd-")
            .tempdir()
            .expect("tempdir for sshd");
        let d = dir.path();
        keygen(&d.join("host_key"), "runbook-test-host");
        keygen(&d.join("client_key"), "runbook-test-client");
        fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
        let mut sshd = Sshd {
            dir,
            listen: self.listen,
            port: 0,
            netns: self.netns,
            extra_config: self.extra_config,
            child: None,
        };
        // A free port can be taken between choosing it and sshd binding it (tests run in
        // parallel): choose again then.
        for _ in 0..20 {
            sshd.port = match self.port {
                Some(p) => p,
                None => free_port(self.listen),
            };
            sshd.write_configs();
            if sshd.spawn().is_ok() {
                return sshd;
            }
            if self.port.is_some() {
                break;
            }
        }
        panic!("sshd did not start; log:\n{}", sshd.log());
    }
}

/// A running sshd; stopped by pid on drop.
pub struct Sshd {
    dir: tempfile::TempDir,
    listen: IpAddr,
    port: u16,
    netns: Option<String>,
    extra_config: String,
    child: Option<Child>,
}

impl Sshd {
    /// A server on 127.0.0.1 and a free port.
    pub fn start() -> Sshd {
        Sshd::builder().start()
    }

    pub fn builder() -> SshdBuilder {
        SshdBuilder::default()
    }

    pub fn addr(&self) -> IpAddr {
        self.listen
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ssh://root@ADDR:PORT`, for `ssh =` in `runbook.toml`.
    pub fn destination(&self) -> String {
        format!("ssh://root@{}:{}", self.listen, self.port)
    }

    /// The client `ssh_config` (for `[ssh] config` or `ssh -F`).
    pub fn client_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// The client's `known_hosts`, holding this server's key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The client's private key (its public half is in `authorized_keys`).
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// The server's public host key line (`ssh-ed25519 AAAA... comment`).
    pub fn host_public_key(&self) -> String {
        fs::read_to_string(self.dir.path().join("host_key.pub"))
            .expect("host key")
            .trim()
            .to_string()
    }

    /// How `known_hosts` names this server (`[addr]:port`, or the bare address on port 22).
    pub fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.listen.to_string()
        } else {
            format!("[{}]:{}", self.listen, self.port)
        }
    }

    /// A folder private to this server, for a test's own files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// sshd's log (`-e`: everything it would send to syslog).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Gives the server a new host key, as a reinstalled host would have (clients that
    /// recorded the old one must refuse it). Takes effect on the next [`Sshd::restart`].
    pub fn regenerate_host_key(&self) {
        let d = self.dir.path();
        let _ = fs::remove_file(d.join("host_key"));
        let _ = fs::remove_file(d.join("host_key.pub"));
        keygen(&d.join("host_key"), "runbook-test-host-new");
    }

    /// Kills the listener and every process under it (connections, their shells and
    /// commands), as a host going down would.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Collect the whole tree first: once a parent dies, its children are re-parented
        // and could no longer be found.
        for _ in 0..3 {
            let mut tree = descendants(child.id());
            tree.push(child.id());
            for pid in &tree {
                unsafe {
                    libc::kill(*pid as i32, libc::SIGKILL);
                }
            }
        }
        let _ = child.wait();
    }

    /// Stops the server and starts it again on the same address with the same keys.
    pub fn restart(&mut self) {
        self.stop();
        self.write_configs();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!("sshd did not restart: {e}; log:\n{}", self.log())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn write_configs(&self) {
        let d = self.dir.path();
        let server = format!(
            "ListenAddress {listen}\n\
             Port {port}\n\
             HostKey {d}/host_key\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\n\
             UsePAM no\n\
             PermitRootLogin yes\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             MaxStartups 100\n\
             MaxSessions 100\n\
             Subsystem sftp internal-sftp\n\
             {extra}",
            listen = self.listen,
            port = self.port,
            d = d.display(),
            extra = self.extra_config,
        );
        fs::write(d.join("sshd_config"), server).expect("sshd_config");
        // `UserKnownHostsFile` being set also turns `UpdateHostKeys` off; say so anyway: a
        // test checks that nothing is written to known_hosts.
        let client = format!(
            "Host *\n\
             \x20 IdentityFile {d}/client_key\n\
             \x20 IdentitiesOnly yes\n\
             \x20 UserKnownHostsFile {d}/known_hosts\n\
             \x20 GlobalKnownHostsFile /dev/null\n\
             \x20 UpdateHostKeys no\n\
             \x20 BatchMode yes\n",
            d = d.display()
        );
        fs::write(d.join("ssh_config"), client).expect("ssh_config");
        if !d.join("known_hosts").exists() {
            let line = format!("{} {}\n", self.known_hosts_name(), self.host_public_key());
            fs::write(d.join("known_hosts"), line).expect("known_hosts");
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let d = self.dir.path();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("sshd.log"))
            .expect("sshd.log");
        let config = d.join("sshd_config");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, SSHD]);
                c
            }
            None => Command::new(SSHD),
        };
        cmd.arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let mut child = cmd.spawn().map_err(|e| format!("cannot run {SSHD}: {e}"))?;
        let addr = SocketAddr::new(self.listen, self.port);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Err(format!("sshd exited: {status}"));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("sshd is not listening after 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An sshd in its own network namespace, reached over a veth pair whose link a test can cut.
pub struct NetnsHost {
    // Dropped first: the server goes before its namespace.
    pub sshd: Sshd,
    net: Netns,
}

impl NetnsHost {
    /// A namespace `rbtest-N` with `10.200.N.2/24` inside, `10.200.N.1/24` here, and sshd on
    /// port 22 inside.
    pub fn start() -> NetnsHost {
        NetnsHost::start_with(Sshd::builder())
    }

    pub fn start_with(builder: SshdBuilder) -> NetnsHost {
        let net = Netns::create();
        let sshd = builder
            .listen(IpAddr::V4(Ipv4Addr::new(10, 200, net.subnet, 2)))
            .port(22)
            .netns(&net.name)
            .start();
        NetnsHost { sshd, net }
    }

    /// A destination on the host's network where nothing answers: connecting to it can only
    /// time out.
    pub fn silent_destination(&self) -> String {
        format!("ssh://root@10.200.{}.3:22", self.net.subnet)
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn netns(&self) -> &str {
        &self.net.name
    }

    /// Cuts the network: the link inside the namespace goes down, so packets to and from
    /// the host vanish without an error, as when a cable is pulled.
    pub fn link_down(&self) {
        ip(&[
            "-n",
            &self.net.name,
            "link",
            "set",
            &self.net.inner_if,
            "down",
        ]);
    }

    /// Restores the link and waits until the server answers again (the kernel takes up to a
    /// second to let traffic through a link that came back).
    pub fn link_up(&self) {
        ip(&[
            "-n",
            &self.net.name,
            "link",
            "set",
            &self.net.inner_if,
            "up",
        ]);
        let addr = SocketAddr::new(self.sshd.addr(), self.sshd.port());
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{addr} unreachable after link_up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A namespace and the veth pair into it; removed, with whatever still runs inside, on drop.
struct Netns {
    name: String,
    /// The veth end in this (the root) namespace.
    outer_if: String,
    /// The veth end inside the namespace.
    inner_if: String,
    subnet: u8,
}

impl Netns {
    fn create() -> Netns {
        let (subnet, name) = {
            let _lock = NetnsLock::take();
            let subnet = free_subnet();
            let name = format!("rbtest-{subnet}");
            ip(&["netns", "add", &name]);
            (subnet, name)
        };
        let net = Netns {
            outer_if: format!("rbt{subnet}o"),
            inner_if: format!("rbt{subnet}i"),
            name,
            subnet,
        };
        let (outer, inner, ns) = (&net.outer_if, &net.inner_if, &net.name);
        ip(&["link", "add", outer, "type", "veth", "peer", "name", inner]);
        ip(&["link", "set", inner, "netns", ns]);
        ip(&[
            "addr",
            "add",
            &format!("10.200.{subnet}.1/24"),
            "dev",
            outer,
        ]);
        ip(&["link", "set", outer, "up"]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("10.200.{subnet}.2/24"),
            "dev",
            inner,
        ]);
        ip(&["-n", ns, "link", "set", inner, "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        net
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.outer_if])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Serialises the choice of a subnet between test processes running at once.
struct NetnsLock(fs::File);

impl NetnsLock {
    fn take() -> NetnsLock {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join("runbook-netns.lock"))
            .expect("netns lock file");
        use std::os::fd::AsRawFd;
        unsafe {
            libc::flock(f.as_raw_fd(), libc::LOCK_EX);
        }
        NetnsLock(f)
    }
}

impl Drop for NetnsLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// A `10.200.N.0/24` with no address on this machine and no namespace of ours.
fn free_subnet() -> u8 {
    let addrs = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .expect("ip addr");
    let addrs = String::from_utf8_lossy(&addrs.stdout).to_string();
    let spaces = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let spaces = String::from_utf8_lossy(&spaces.stdout).to_string();
    let start = (std::process::id() % 200) as u8 + 1;
    (0..250u16)
        .map(|i| ((start as u16 + i) % 250 + 1) as u8)
        .find(|n| {
            !addrs.contains(&format!("10.200.{n}."))
                && !spaces
                    .split_whitespace()
                    .any(|s| s == format!("rbtest-{n}"))
        })
        .expect("a free 10.200.N.0/24")
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(path: &Path, comment: &str) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port(addr: IpAddr) -> u16 {
    TcpListener::bind(SocketAddr::new(addr, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// sshd refuses to start without its privilege-separation directory.
fn ensure_privsep_dir() {
    let _ = fs::create_dir_all("/run/sshd");
}

/// Every process whose parent chain leads to `root` (not `root` itself).
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = rest
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u32>().ok())
            {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree.remove(0);
    tree
}

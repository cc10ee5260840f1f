//! What a benchmark run measured, printed as text or JSON, and the server
//! process figures read from `/proc`.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Worst.
    pub max_ms: f64,
}

/// A histogram of microseconds, up to a minute.
pub fn histogram() -> Histogram<u64> {
    // Invariant: 1 µs to 60 s with 3 significant digits is a valid range, so
    // construction cannot fail.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

impl Latency {
    /// Summarises a histogram of microseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Memory and CPU of the server process.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProcessSample {
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// The highest resident set size the process has had, bytes.
    pub peak_rss_bytes: u64,
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
    /// Bytes the process has caused to be written to storage
    /// (`write_bytes` of `/proc/PID/io`), if readable.
    pub written_bytes: Option<u64>,
}

impl ProcessSample {
    /// Reads `/proc/PID/status`, `/proc/PID/stat` and `/proc/PID/io`; `None`
    /// if the process is not on this machine.
    pub fn read(pid: u32) -> Option<ProcessSample> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib = |field: &str| -> Option<u64> {
            status.lines().find_map(|l| l.strip_prefix(field))?.trim().trim_end_matches("kB").trim().parse().ok()
        };
        let (rss_kib, peak_kib) = (kib("VmRSS:")?, kib("VmHWM:")?);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may contain spaces) start at ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        // SAFETY: sysconf only reads a system constant.
        #[allow(unsafe_code)]
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok();
        let written_bytes =
            io.and_then(|io| io.lines().find_map(|l| l.strip_prefix("write_bytes:"))?.trim().parse().ok());
        Some(ProcessSample {
            rss_bytes: rss_kib * 1024,
            peak_rss_bytes: peak_kib * 1024,
            cpu_secs: (utime + stime) / ticks,
            written_bytes,
        })
    }
}

/// Server figures over a run.
#[derive(Debug, Clone, Serialize)]
pub struct ServerUsage {
    /// At the start of the measured part.
    pub before: ProcessSample,
    /// At its end.
    pub after: ProcessSample,
    /// CPU used over the run as a share of one core (1.0 = one core busy).
    pub cpu_cores: f64,
    /// Bytes written to storage over the run, if known.
    pub written_bytes: Option<u64>,
}

impl ServerUsage {
    /// Compares two samples taken `elapsed` apart.
    pub fn between(before: ProcessSample, after: ProcessSample, elapsed: Duration) -> ServerUsage {
        let cpu_cores = (after.cpu_secs - before.cpu_secs) / elapsed.as_secs_f64().max(1e-9);
        let written_bytes = after.written_bytes.zip(before.written_bytes).map(|(a, b)| a.saturating_sub(b));
        ServerUsage { before, after, cpu_cores, written_bytes }
    }
}

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Transport used.
    pub transport: String,
    /// Length of the measured part, seconds.
    pub seconds: f64,
    /// Named counts (messages sent, delivered, duplicates, errors …).
    pub counts: Vec<(String, u64)>,
    /// Named rates per second.
    pub rates: Vec<(String, f64)>,
    /// Named latency distributions.
    pub latencies: Vec<(String, Latency)>,
    /// Other named figures (memory per connection, backlog time …).
    pub figures: Vec<(String, f64)>,
    /// Server process usage, when its pid was given.
    pub server: Option<ServerUsage>,
}

impl Report {
    /// An empty report.
    pub fn new(scenario: &str, transport: &str) -> Report {
        Report {
            scenario: scenario.into(),
            transport: transport.into(),
            seconds: 0.0,
            counts: Vec::new(),
            rates: Vec::new(),
            latencies: Vec::new(),
            figures: Vec::new(),
            server: None,
        }
    }

    /// Adds a count.
    pub fn count(&mut self, name: &str, value: u64) -> &mut Self {
        self.counts.push((name.into(), value));
        self
    }

    /// Adds a rate.
    pub fn rate(&mut self, name: &str, value: f64) -> &mut Self {
        self.rates.push((name.into(), value));
        self
    }

    /// Adds a latency distribution.
    pub fn latency(&mut self, name: &str, histogram: &Histogram<u64>) -> &mut Self {
        self.latencies.push((name.into(), Latency::from_histogram(histogram)));
        self
    }

    /// Adds another figure.
    pub fn figure(&mut self, name: &str, value: f64) -> &mut Self {
        self.figures.push((name.into(), value));
        self
    }

    /// The plain-text summary.
    pub fn text(&self) -> String {
        let mut out =
            format!("scenario {}  transport {}  measured {:.2} s\n", self.scenario, self.transport, self.seconds);
        for (name, value) in &self.counts {
            out += &format!("  {name:<28} {value}\n");
        }
        for (name, value) in &self.rates {
            out += &format!("  {name:<28} {value:.0}/s\n");
        }
        for (name, l) in &self.latencies {
            out += &format!(
                "  {name:<28} p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms  (n={})\n",
                l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms, l.count
            );
        }
        for (name, value) in &self.figures {
            out += &format!("  {name:<28} {value:.2}\n");
        }
        if let Some(s) = &self.server {
            out += &format!(
                "  server rss                   {:.1} MiB -> {:.1} MiB\n  server cpu                   {:.2} cores\n",
                s.before.rss_bytes as f64 / 1048576.0,
                s.after.rss_bytes as f64 / 1048576.0,
                s.cpu_cores
            );
            if let Some(bytes) = s.written_bytes {
                out += &format!("  server disk writes           {:.1} MiB\n", bytes as f64 / 1048576.0);
            }
        }
        out
    }
}

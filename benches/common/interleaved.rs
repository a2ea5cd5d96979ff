//! A paired, interleaved comparison of a few operations, outside criterion: robust to the
//! load of a shared machine drifting during the run.

use super::report::format_ns;

/// One operation of an interleaved comparison: a closure making a fresh future per run.
pub type Job<'a> = (&'a str, JobFn<'a>);

/// Makes the future of one run of a [`Job`].
pub type JobFn<'a> =
    Box<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>> + 'a>;

/// A paired, interleaved comparison, robust to the load drifting on a shared machine:
/// `rounds` rounds, each running every job `batch` times in a shuffled order; prints each
/// job's median time per operation and the median over rounds of its time divided by the
/// first job's time in the same round.
pub fn interleaved(
    rt: &tokio::runtime::Runtime,
    title: &str,
    rounds: usize,
    batch: u32,
    jobs: &[Job<'_>],
) {
    let n = jobs.len();
    let mut times = vec![Vec::with_capacity(rounds); n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..rounds {
        for i in (1..n).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let j = usize::try_from(seed % (i as u64 + 1)).unwrap_or(0);
            order.swap(i, j);
        }
        for &job in &order {
            let start = std::time::Instant::now();
            rt.block_on(async {
                for _ in 0..batch {
                    (jobs[job].1)().await;
                }
            });
            times[job].push(start.elapsed().as_secs_f64() * 1e9 / f64::from(batch));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("interleaved {title}: {rounds} rounds x {batch} per job, shuffled order");
    for (i, (name, _)) in jobs.iter().enumerate() {
        let ratios = (0..rounds).map(|r| times[i][r] / times[0][r]).collect();
        println!(
            "  {name:40} median {:>12}  paired ratio to {} {:.3}",
            format_ns(median(times[i].clone())),
            jobs[0].0,
            median(ratios)
        );
    }
}

'use strict';
/*
 * The shapes of `strata-bench priority` on BullMQ, for comparison (run it
 * through run.sh, which brings its own Redis).
 *
 * --mode priority (default): two phases, each on a fresh queue with a fresh
 * Worker (--concurrency slots, a handler that takes its start time and then
 * waits --handler-ms). Phase "with backlog": --backlog jobs at priority 10 are
 * added (addBulk, in chunks), then critical jobs at priority 1 (BullMQ: lower
 * is first) at --rate per second for --seconds (the window), paced by
 * absolute deadlines. Phase "without backlog": the critical jobs alone
 * (with --backlog 0, only this phase). The worker runs from before the
 * backlog is added. Each job carries its submit time (performance.now(), a
 * monotonic clock of this process) in its data; its latency is the handler's
 * start minus that. A critical job that has not started by the end of the
 * wait after the window (--wait) counts with its wait until then (a lower
 * bound) and is counted as not started. Also: backlog jobs started during
 * the window and before the last critical start.
 *
 * --mode throughput: --jobs no-op jobs added first, then one Worker with
 * --concurrency (default 50 in this mode) processes them; completed jobs per
 * second from the worker's start to the last completion.
 *
 * Jobs are removed on completion, and every queue is obliterated at the end.
 * The last stdout line is JSON.
 */
const { Queue, Worker } = require('bullmq');
const { performance } = require('perf_hooks');

const USAGE = `usage: node bench.js [--mode priority|throughput] [options]

  --redis HOST:PORT   Redis to use (default 127.0.0.1:56379)
  --mode M            priority (default) or throughput
 priority:
  --backlog N         low-priority jobs added first (default 250000; 0: only
                      the phase without backlog)
  --rate R            critical jobs per second (default 500)
  --seconds S         length of the critical window (default 20)
  --handler-ms H      handler run time, ms (default 1)
  --concurrency C     worker concurrency (default 20; 50 in throughput mode)
  --wait S            after the window, how long to wait for critical jobs
                      not yet started (default 60); in throughput mode, how
                      long the jobs may take to complete
 throughput:
  --jobs N            no-op jobs (default 100000)
  --help              this text
`;

const BACKLOG_PRIORITY = 10;
const CRITICAL_PRIORITY = 1;
const CHUNK = 1000;

function fail(msg) {
  process.stderr.write(`bench.js: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    redis: '127.0.0.1:56379',
    mode: 'priority',
    backlog: 250000,
    rate: 500,
    seconds: 20,
    handlerMs: 1,
    concurrency: null,
    wait: 60,
    jobs: 100000,
  };
  const num = (flag, v, lo, hi, int) => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < lo ||
        n > hi || (int && !Number.isInteger(n)))
      fail(`${flag}: "${v}" is not allowed`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const v = argv[i + 1];
    if (v === undefined) fail(`${a} needs a value (or is unknown)`);
    i++;
    switch (a) {
    case '--redis':
      if (!/^[^:]+:\d+$/.test(v)) fail(`--redis: "${v}" is not HOST:PORT`);
      o.redis = v;
      break;
    case '--mode':
      if (v !== 'priority' && v !== 'throughput')
        fail(`--mode: "${v}" is not allowed (priority or throughput)`);
      o.mode = v;
      break;
    case '--backlog': o.backlog = num(a, v, 0, 10000000, true); break;
    case '--rate': o.rate = num(a, v, 1e-9, 100000, false); break;
    case '--seconds': o.seconds = num(a, v, 1e-9, 600, false); break;
    case '--handler-ms': o.handlerMs = num(a, v, 0, 60000, true); break;
    case '--concurrency': o.concurrency = num(a, v, 1, 4096, true); break;
    case '--wait': o.wait = num(a, v, 1e-9, 3600, false); break;
    case '--jobs': o.jobs = num(a, v, 1, 10000000, true); break;
    default: fail(`unknown option "${a}"`);
    }
  }
  if (o.concurrency === null) o.concurrency = o.mode === 'throughput' ? 50 : 20;
  if (o.rate * o.seconds > 1000000)
    fail(`--rate x --seconds is ${o.rate * o.seconds} critical jobs; at most 1000000`);
  const [host, port] = o.redis.split(':');
  o.connection = { host, port: Number(port), maxRetriesPerRequest: null };
  return o;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* Polls cond() until true or the monotonic deadline (ms); true if reached. */
async function pollUntil(cond, deadline) {
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await sleep(1);
  }
  return true;
}

/* Nearest-rank percentile (q in 0..1) of sorted values; -1 when empty. */
function pct(sorted, q) {
  if (!sorted.length) return -1;
  const k = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[k - 1];
}

function queueName(label) {
  return `strata-peer-${process.pid}-${Date.now().toString(36)}-${label}`;
}

async function addBulk(queue, n, make) {
  for (let i = 0; i < n; i += CHUNK) {
    const jobs = [];
    for (let k = i; k < Math.min(n, i + CHUNK); k++) jobs.push(make(k));
    await queue.addBulk(jobs);
  }
}

async function priorityPhase(o, backlog, label) {
  const name = queueName(label);
  const queue = new Queue(name, { connection: o.connection });
  const ncap = Math.floor(o.rate * o.seconds) + 2;
  const submitAt = new Float64Array(ncap);
  const startLat = new Float64Array(ncap).fill(-1);
  const backlogStarts = [];
  const jobOpts = { removeOnComplete: true, removeOnFail: true };
  let warmStarted = 0, critStarted = 0, worker = null;
  const res = { backlog, critical: 0 };

  try {
    worker = new Worker(name, async (job) => {
      const now = performance.now();
      const d = job.data;
      if (d.p === 'c') {
        if (startLat[d.i] < 0) {
          startLat[d.i] = now - d.t0;
          critStarted++;
        }
      } else if (d.p === 'b') {
        backlogStarts.push(now);
      } else {
        warmStarted++;
      }
      if (o.handlerMs > 0) await sleep(o.handlerMs);
    }, { connection: o.connection, concurrency: o.concurrency });
    worker.on('error', (err) => process.stderr.write(`bench.js: worker: ${err}\n`));
    await worker.waitUntilReady();

    /* Warm-up: one job at each priority, through the worker. */
    await queue.add('w', { p: 'w' }, { ...jobOpts, priority: CRITICAL_PRIORITY });
    await queue.add('w', { p: 'w' }, { ...jobOpts, priority: BACKLOG_PRIORITY });
    if (!await pollUntil(() => warmStarted >= 2, performance.now() + 30000))
      throw new Error('the warm-up jobs did not start within 30 s');

    if (backlog) {
      process.stderr.write(`bench.js: [${name}] adding ${backlog} backlog jobs\n`);
      const t = performance.now();
      await addBulk(queue, backlog, () => ({
        name: 'b', data: { p: 'b', t0: performance.now() },
        opts: { ...jobOpts, priority: BACKLOG_PRIORITY },
      }));
      res.backlogSubmitS = (performance.now() - t) / 1e3;
    }
    process.stderr.write(
      `bench.js: [${name}] critical jobs at ${o.rate}/s for ${o.seconds} s\n`);

    const backlogStartedAtOpen = backlogStarts.length;
    const period = 1000 / o.rate;
    const tOpen = performance.now();
    const tEnd = tOpen + o.seconds * 1000;
    const adds = [];
    let n = 0;
    for (;;) {
      const due = tOpen + n * period;
      if (due >= tEnd || n >= ncap) break;
      const now = performance.now();
      if (now < due) await sleep(due - now);
      submitAt[n] = performance.now();
      adds.push(queue.add('c', { p: 'c', i: n, t0: submitAt[n] },
        { ...jobOpts, priority: CRITICAL_PRIORITY }));
      n++;
    }
    const tClose = performance.now();
    await Promise.all(adds);
    /* Missing jobs are reported in the figures, not as a failure: under a
     * large backlog that is the finding. */
    await pollUntil(() => critStarted >= n, tClose + o.wait * 1000);
    const endWait = performance.now();

    const lat = [];
    let notStarted = 0, lastStart = 0;
    for (let i = 0; i < n; i++) {
      if (startLat[i] < 0) {
        notStarted++;
        lat.push(endWait - submitAt[i]);
      } else {
        lat.push(startLat[i]);
        lastStart = Math.max(lastStart, submitAt[i] + startLat[i]);
      }
    }
    if (notStarted) lastStart = endWait;
    lat.sort((a, b) => a - b);
    Object.assign(res, {
      critical: n,
      windowS: (tClose - tOpen) / 1e3,
      startP50: pct(lat, 0.5),
      startP99: pct(lat, 0.99),
      startMax: pct(lat, 1),
      notStarted,
      backlogStartedAtOpen,
      backlogInWindow: backlogStarts.filter((s) => s >= tOpen && s < tClose).length,
      backlogBeforeLast: backlogStarts.filter((s) => s >= tOpen && s <= lastStart).length,
    });
    return res;
  } finally {
    if (worker) await worker.close(true);
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

function printPhase(title, r) {
  const ge = r.notStarted ? '>=' : '';
  console.log(`  ${title}:`);
  if (r.backlog)
    console.log(`    backlog ${r.backlog} added in ${r.backlogSubmitS.toFixed(2)} s; ` +
      `at window open ${r.backlogStartedAtOpen} started`);
  console.log(`    ${r.critical} critical jobs over ${r.windowS.toFixed(2)} s`);
  console.log(`    submit -> handler start: p50 ${ge}${r.startP50.toFixed(2)} ms  ` +
    `p99 ${ge}${r.startP99.toFixed(2)} ms  max ${ge}${r.startMax.toFixed(2)} ms  ` +
    `(${r.notStarted} not started)`);
  if (r.backlog)
    console.log(`    backlog jobs started during the window: ${r.backlogInWindow}; ` +
      `before the last critical start: ${r.backlogBeforeLast}`);
}

function jsonPhase(r) {
  if (!r) return null;
  const f = (x) => Number(x.toFixed(2));
  return {
    backlog: r.backlog,
    critical: r.critical,
    dispatch_p50_ms: null,
    dispatch_p99_ms: null,
    start_p50_ms: f(r.startP50),
    start_p99_ms: f(r.startP99),
    not_seen: null,
    not_started: r.notStarted,
    backlog_started_in_window: r.backlogInWindow,
    backlog_started_before_last_critical: r.backlogBeforeLast,
    backlog_dispatched_at_open: null,
  };
}

async function priorityMain(o) {
  const withBacklog = o.backlog ? await priorityPhase(o, o.backlog, 'backlog') : null;
  const alone = await priorityPhase(o, 0, 'alone');
  console.log(`bench.js priority (BullMQ): backlog ${o.backlog} at priority ` +
    `${BACKLOG_PRIORITY}, critical at priority ${CRITICAL_PRIORITY}, ${o.rate}/s ` +
    `for ${o.seconds} s, handler ${o.handlerMs} ms, concurrency ${o.concurrency}, ` +
    `Redis ${o.redis}`);
  if (withBacklog) printPhase('with the backlog', withBacklog);
  printPhase('without a backlog', alone);
  console.log(JSON.stringify({
    bench: 'priority-bullmq',
    backlog: o.backlog,
    rate: o.rate,
    seconds: o.seconds,
    handler_ms: o.handlerMs,
    concurrency: o.concurrency,
    partitions: null,
    with_backlog: jsonPhase(withBacklog),
    no_backlog: jsonPhase(alone),
  }));
}

async function throughputMain(o) {
  const name = queueName('throughput');
  const queue = new Queue(name, { connection: o.connection });
  let worker = null;
  try {
    const t0 = performance.now();
    await addBulk(queue, o.jobs, (k) => ({
      name: 'n', data: { k }, opts: { removeOnComplete: true, removeOnFail: true },
    }));
    const addS = (performance.now() - t0) / 1e3;
    let done = 0, failed = 0;
    const t1 = performance.now();
    worker = new Worker(name, async () => {}, {
      connection: o.connection, concurrency: o.concurrency,
    });
    worker.on('completed', () => { done++; });
    worker.on('failed', () => { failed++; });
    worker.on('error', (err) => process.stderr.write(`bench.js: worker: ${err}\n`));
    const ok = await pollUntil(() => done + failed >= o.jobs, t1 + o.wait * 1000);
    const runS = (performance.now() - t1) / 1e3;
    if (!ok)
      throw new Error(`only ${done} of ${o.jobs} jobs completed in ${runS.toFixed(1)} s`);
    console.log(`bench.js throughput (BullMQ): ${o.jobs} no-op jobs, concurrency ` +
      `${o.concurrency}, Redis ${o.redis}`);
    console.log(`  added in ${addS.toFixed(2)} s (${(o.jobs / addS).toFixed(0)} jobs/s)`);
    console.log(`  processed in ${runS.toFixed(2)} s (${(done / runS).toFixed(0)} jobs/s` +
      `${failed ? `, ${failed} failed` : ''})`);
    console.log(JSON.stringify({
      bench: 'throughput-bullmq',
      jobs: o.jobs,
      concurrency: o.concurrency,
      add_per_sec: Math.round(o.jobs / addS),
      completed_per_sec: Math.round(done / runS),
      failed,
    }));
  } finally {
    if (worker) await worker.close(true);
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

const opts = parseArgs(process.argv.slice(2));
(opts.mode === 'throughput' ? throughputMain(opts) : priorityMain(opts))
  .then(() => process.exit(0))
  .catch((err) => {
    process.stderr.write(`bench.js: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });

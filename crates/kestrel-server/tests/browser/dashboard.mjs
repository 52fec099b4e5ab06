// Drives the Kestrel dashboard in a real headless Chromium (Debian's /usr/bin/chromium) against a
// running server seeded by browser.rs. Fails (exit 1) on the first unmet expectation, on any
// page error or console error (a CSP violation included). Screenshots go to OUT_DIR.
//
// Env: BASE_URL, TOKEN, OUT_DIR, EXPECT (JSON of the figures the seed produced).
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const base = process.env.BASE_URL;
const token = process.env.TOKEN;
const out = process.env.OUT_DIR;
const expect = JSON.parse(process.env.EXPECT);
mkdirSync(out, { recursive: true });

const problems = [];
function check(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
  console.log(`ok - ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
});
const timings = {};
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(30000);
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push(`request outside the server: ${r.url()}`);
  });
  const ready = (route) => page.waitForSelector(`main[data-ready="${route}"]`);
  const text = (sel) => page.locator(sel).first().innerText();

  // A wrong token is refused on the sign-in form.
  await page.goto(`${base}/`);
  await ready("login");
  await page.fill("#token", "kst_wrong");
  await page.click("#login button[type=submit]");
  await page.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
  check((await text("#login-error")).includes("unknown"), "a wrong token is refused with the server's reason");
  await page.screenshot({ path: join(out, "login.png") });
  // The refused token's 401 is logged by Chromium as a failed resource; that one was expected.
  const expected401 = problems.filter((p) => p.includes("401"));
  check(expected401.length === problems.length, "no problem other than the expected 401");
  problems.length = 0;

  // First load of the overview with the token in the fragment, as `kestrel up` prints it.
  const t0 = Date.now();
  await page.goto(`${base}/#token=${encodeURIComponent(token)}`);
  await ready("overview");
  timings.overview_first_load_ms = Date.now() - t0;
  check(!page.url().includes("token="), "the token is removed from the address bar");
  check((await text('[data-testid="count-vulnerabilities"] .n')) === String(expect.vulnerabilities), `overview counts ${expect.vulnerabilities} vulnerabilities`);
  check((await text('[data-testid="count-alerts"] .n')) === String(expect.alerts), `overview counts ${expect.alerts} alerts`);
  check((await page.locator('[data-testid="top-risks"] tbody tr').count()) === 10, "top risks lists 10 findings");
  check((await text('[data-testid="top-risks"] tbody tr td')) === expect.top_score, `the riskiest finding scores ${expect.top_score}`);
  check((await page.locator('[data-testid="timeline"] rect').count()) > 0, "the alert timeline draws bars");
  check((await text('[data-testid="sensors"] tbody')).includes("node-1"), "sensor health lists node-1");
  await page.screenshot({ path: join(out, "overview.png"), fullPage: true });

  // Vulnerability list: 10,000 findings, paginated, filtered and sorted by the server.
  const t1 = Date.now();
  await page.click('nav a[data-route="vulnerabilities"]');
  await ready("vulnerabilities");
  timings.vulnerabilities_load_ms = Date.now() - t1;
  check((await text('[data-testid="total"]')) === `1–100 of ${expect.vulnerabilities}`, "vulnerabilities are paginated 100 at a time");
  check((await page.locator('[data-testid="vulns"] tbody tr').count()) === 100, "one page shows 100 rows");
  await page.selectOption('select[name="kev"]', "true");
  await page.click('[data-testid="filters"] button[type=submit]');
  await page.waitForFunction((n) => document.querySelector('[data-testid="total"]')?.textContent.endsWith(`of ${n}`), expect.kev);
  check(true, `the KEV filter leaves ${expect.kev} findings`);
  const kevRows = await page.locator('[data-testid="vulns"] tbody tr').allInnerTexts();
  check(kevRows.every((r) => r.includes("KEV")), "every filtered row is KEV");
  await page.screenshot({ path: join(out, "vulnerabilities-kev.png"), fullPage: false });
  await page.fill('input[name="q"]', expect.search);
  await page.click('[data-testid="filters"] button[type=submit]');
  await page.waitForFunction((n) => document.querySelector('[data-testid="total"]')?.textContent.endsWith(`of ${n}`), expect.search_kev_hits);
  check(true, `searching ${expect.search} among KEV findings finds ${expect.search_kev_hits}`);
  // Sort by EPSS, ascending on the second click.
  await page.goto(`${base}/#/vulnerabilities`);
  await ready("vulnerabilities");
  await page.click('th[data-sort="epss"]');
  await page.waitForSelector('th.sorted-desc[data-sort="epss"]');
  await page.click('th[data-sort="epss"]');
  await page.waitForSelector('th.sorted-asc[data-sort="epss"]');
  const epss = await page.locator('[data-testid="vulns"] tbody tr td:nth-child(8)').allInnerTexts();
  const nums = epss.map(Number);
  check(nums.every((v, i) => i === 0 || nums[i - 1] <= v), "sorting by EPSS ascending orders the rows");
  await page.click('[data-testid="pager"] button:has-text("Next")');
  await page.waitForFunction(() => document.querySelector('[data-testid="total"]')?.textContent.startsWith("101–200"));
  check(true, "the next page shows rows 101 to 200");
  await page.screenshot({ path: join(out, "vulnerabilities.png") });

  // Alerts with a priority filter.
  await page.click('nav a[data-route="alerts"]');
  await ready("alerts");
  await page.selectOption('select[name="priority"]', "critical");
  await page.click('[data-testid="filters"] button[type=submit]');
  await page.waitForFunction((n) => document.querySelector('[data-testid="total"]')?.textContent.endsWith(`of ${n}`), expect.critical_alerts);
  const prios = await page.locator('[data-testid="alerts"] tbody tr td:nth-child(2)').allInnerTexts();
  check(prios.length > 0 && prios.every((p) => p === "Critical"), `the priority filter shows only the ${expect.critical_alerts} Critical alerts`);
  await page.screenshot({ path: join(out, "alerts.png") });

  // Workload page, reached from the workload list.
  await page.click('nav a[data-route="workloads"]');
  await ready("workloads");
  await page.click(`[data-testid="workloads"] a:has-text("${expect.workload}")`);
  await ready("workload");
  check((await text('[data-testid="exposure"]')) === "internet", "the workload page shows its exposure");
  const reasons = await text('[data-testid="workload-vulns"] tbody tr .reasons');
  check(reasons.includes("mapped by"), "its vulnerabilities carry the runtime reasons");
  check((await page.locator('[data-testid="workload-alerts"] tbody tr').count()) > 0, "its alerts are listed");
  check((await page.locator('[data-testid="workload-paths"] tbody tr').count()) === 1, "its attack path is listed");
  await page.screenshot({ path: join(out, "workload.png"), fullPage: true });

  // Attack path view: the graph and one explanation per hop.
  await page.click('[data-testid="workload-paths"] tbody a[href^="#/path/"]');
  await ready("path");
  check((await page.locator('[data-testid="graph"] g[data-node]').count()) === expect.path_hops + 1, `the path graph draws ${expect.path_hops + 1} nodes`);
  check((await page.locator('[data-testid="graph"] line').count()) === expect.path_hops, `and ${expect.path_hops} arrows`);
  const hops = await page.locator('[data-testid="hops"] li').allInnerTexts();
  check(hops.length === expect.path_hops && hops[0].includes(expect.first_hop_explanation), "each hop is explained");
  await page.screenshot({ path: join(out, "attack-path.png"), fullPage: true });

  // Posture findings with a severity filter.
  await page.click('nav a[data-route="posture"]');
  await ready("posture");
  await page.selectOption('select[name="severity"]', "high");
  await page.click('[data-testid="filters"] button[type=submit]');
  await page.waitForFunction((n) => document.querySelector('[data-testid="total"]')?.textContent.endsWith(`of ${n}`), expect.posture_high);
  check(true, `the severity filter leaves ${expect.posture_high} posture findings`);
  await page.screenshot({ path: join(out, "posture.png") });

  // Signing out forgets the token.
  await page.click("#logout");
  await ready("login");
  check(await page.evaluate(() => localStorage.getItem("kestrel.token") === null), "signing out forgets the token");
} finally {
  await browser.close();
}
writeFileSync(join(out, "timings.json"), JSON.stringify(timings, null, 2));
console.log(`timings ${JSON.stringify(timings)}`);
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}

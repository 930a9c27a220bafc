// Package e2e holds the web console's end-to-end test: a real master, two
// real agents and both frameworks as processes, and Debian's headless
// Chromium driven through chromedp doing what an operator does, page by
// page (cluster, services, an app, its logs, jobs, a job), with a
// screenshot of each page saved as a test artifact ($CORRAL_ARTIFACTS/console,
// else bin/artifacts/console).
//
// Chromium is found through CORRAL_CHROMIUM or on PATH; without it the test
// skips, except in CI (CI=true), where it fails.
package e2e

// Package web is corral's console: plain HTML, CSS and JavaScript modules
// embedded in the binary, with no build step and no external URLs, so it
// works on a machine that reaches nothing but the master.
//
// The master serves it at "/" (see Handler). Every page is one document,
// index.html, with hash routes, so the server needs no route per page:
//
//	#/cluster                      agents, frameworks, tasks, offers
//	#/services                     apps, deployments, launch queue, new app
//	#/services/app/<app id>        one app: instances, versions, events
//	#/jobs                         jobs, dependency graph, new job
//	#/jobs/<name>                  one job: definition and run history
//	#/logs/<agent id>/<task id>    a task's stdout/stderr, followed live
//
// The console reads everything through the master it was loaded from, with
// relative URLs (so it also works below a path prefix):
//
//	browser ──▶ master  console/state, console/events    the master's /state, and SSE "it changed"
//	               ├──▶ framework/services/…  ──▶ services' /v2 API (webui_url)
//	               ├──▶ framework/jobs/…      ──▶ jobs' /v1 API (webui_url)
//	               └──▶ agent/<id>/files/…    ──▶ that agent's /files (sandbox logs)
//
// Pages render each table with one innerHTML assignment built from an
// escaping template (assets/dom.js), so user data (app ids, commands, log
// text) is never markup, and they update live: each page listens to one
// event stream and re-reads what it shows, debounced, redrawing only when
// the answer changed. Long tables show 100 rows at a time (assets/pager.js)
// with the filter searching all of them, and a dependency graph of more
// than 150 jobs is drawn when asked for, so a page with 1,000 apps or jobs
// paints in well under a second.
package web

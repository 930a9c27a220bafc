// Package migrations holds corral's database schema as golang-migrate SQL
// files, embedded so that the binary can apply them itself.
//
// There is one sequence for the whole database. Each file is named
// NNNNNN_title.up.sql / NNNNNN_title.down.sql; a down file undoes exactly its
// up file, so that up → down → up leaves the same schema. Each component owns
// one Postgres schema:
//
//	kernel    agents, frameworks, role weights and quotas, the maintenance
//	          schedule, the leading master and the masters' term
//	services  apps and their versions, groups, deployments and the
//	          history of ended ones, instances, launch delays, the
//	          framework id, the instances' term, the event
//	          subscriptions (callback URLs)
//	jobs      jobs and their planning cursors, dependency edges and their
//	          progress, runs, per-job stats, the framework id, the
//	          instances' term, the webhook notifications of ended runs
//
// Applying the files is the job of corral/internal/migrate.
package migrations

import "embed"

// FS holds every migration file of the sequence, at its root. It is read-only
// and safe for concurrent use.
//
//go:embed *.sql
var FS embed.FS

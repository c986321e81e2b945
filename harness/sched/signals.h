// SIGINT and SIGTERM handling for long commands.
//
// The first signal sets a flag that workers poll: they stop claiming runs,
// the running ones stop as interrupted and the store is flushed. A second
// SIGINT or SIGTERM exits at once with status 130 or 143; SQLite's WAL keeps
// the database consistent because each batch is one transaction.
#pragma once

namespace scalelock {

void InstallStopHandlers();
bool StopRequested();
// The signal number that requested the stop, or 0.
int StopSignal();
// 130 for SIGINT, 143 for SIGTERM, 0 when no signal arrived.
int StopExitStatus();

}  // namespace scalelock

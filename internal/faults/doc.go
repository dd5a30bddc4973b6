// Package faults injects I/O errors into file writes, for the fault suite only. It is compiled
// in only with the build tag authops_faults; in every other build (make build, the release)
// Inject is an empty function and nothing reads the environment.
//
// With the tag, AUTHOPS_FAULTS lists faults as NAME=ERRNO pairs separated by commas, where NAME
// is a file name pattern (path.Match) and ERRNO is ENOSPC (disk full) or EACCES (permission
// denied): AUTHOPS_FAULTS=demo-jwt-secret.json=ENOSPC makes every atomic write of the secret
// store's file fail as a full disk would, after the temp file was created. ERRNO KILL instead
// lets the write land, then kills the process with SIGKILL (After): a worker dying just after a
// write, before Temporal heard of it.
package faults

/**
 * Deliberately broken builds, for proving that the fault campaign's checker
 * catches real bugs (FLEETKV_UNSAFE_TEST_BREAK, comma-separated):
 *
 * - `skip-fsync`: acknowledge without fsync (the log's fdatasync does nothing).
 * - `ack-before-staged`: acknowledge a local write before its record is even
 *   staged in the log (it is appended on the next turn).
 * - `skip-dir-fsync`: no directory fsync after a rename (node.json, snapshots).
 * - `early-vector-merge`: merge a peer's vector when its catch-up begins,
 *   before SYNC_DONE (the entries it then sends are taken as already held).
 * - `no-anti-entropy`: live streaming only, no catch-up.
 *
 * Never set it on a robot: the node logs an error at start when it is set.
 */
export const unsafeTestBreaks: ReadonlySet<string> = new Set((process.env.FLEETKV_UNSAFE_TEST_BREAK ?? '').split(',').filter(Boolean));

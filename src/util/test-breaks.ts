/**
 * Deliberately broken builds, for proving that the fault campaign's checker
 * catches real bugs: FLEETKV_UNSAFE_TEST_BREAK=skip-fsync (acknowledge
 * without fsync) and/or no-anti-entropy (live streaming only, no catch-up).
 * Never set it on a robot: the node logs an error at start when it is set.
 */
export const unsafeTestBreaks: ReadonlySet<string> = new Set((process.env.FLEETKV_UNSAFE_TEST_BREAK ?? '').split(',').filter(Boolean));

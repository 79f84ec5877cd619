-- 0012: multi-platform builds (docs/build-service.md, "Platforms").
--
-- workers.platforms: what each worker process can run, natively or through
-- QEMU user emulation registered with binfmt_misc ("linux/amd64,
-- linux/arm64"), for the dashboard's worker list.
ALTER TABLE workers ADD COLUMN platforms TEXT;

-- run_steps.platform: the platform a step of a multi-platform run was
-- built for (NULL for a single-platform run). Such steps are numbered
-- idx = 1000 * platform position (from 1) + step index, so the platforms
-- of one run do not share a row; the API shows the step index and the
-- platform.
ALTER TABLE run_steps ADD COLUMN platform TEXT;

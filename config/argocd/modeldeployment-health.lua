-- Argo CD health of a ModelDeployment (resource.customizations.health.modelops.io_ModelDeployment).
-- Suspended: waiting for a human (pause step, inconclusive analysis, spec.paused);
-- Degraded: rolled back or failed, or the operator cannot apply what it owns
-- (Reconciled=False, checked first: observedGeneration then stays behind);
-- Progressing also while the post-promotion guard runs (phase Available, a
-- postPromotion analysis Running): a failed guard still rolls back, so a sync
-- wave must not treat the rollout as done.
-- Healthy: serving with no rollout under way.
local hs = {status = "Progressing", message = "Waiting for the operator to reconcile"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local st = obj.status
for _, c in ipairs(st.conditions or {}) do
  if c.type == "Reconciled" and c.status == "False" then
    hs.status = "Degraded"
    hs.message = (c.reason or "ReconcileFailed") .. ": " .. (c.message or "")
    return hs
  end
end
local generation = obj.metadata.generation
if generation ~= nil and st.observedGeneration ~= nil and st.observedGeneration < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
hs.message = st.message or st.phase
local function guardRunning()
  for _, r in ipairs(st.analysisRuns or {}) do
    if r.name == "postPromotion" and r.phase == "Running" then return true end
  end
  return false
end
if st.phase == "Available" and guardRunning() then
  hs.status = "Progressing"
  hs.message = "Post-promotion analysis of " .. (st.stableVersion or "the new version") .. " running; " ..
    (st.previousVersion or "the previous version") .. " stays warm and takes traffic back if it fails: " ..
    hs.message
elseif st.phase == "Available" then
  hs.status = "Healthy"
elseif st.phase == "Paused" then
  hs.status = "Suspended"
  if st.pauseReason ~= nil then hs.message = st.pauseReason .. ": " .. hs.message end
elseif st.phase == "RolledBack" or st.phase == "Degraded" then
  hs.status = "Degraded"
else
  -- Pending and Progressing: a rollout or the first pods are under way.
  hs.status = "Progressing"
  if st.canaryVersion ~= nil and st.canaryVersion ~= "" and st.canaryWeight ~= nil then
    hs.message = st.canaryVersion .. " at " .. st.canaryWeight .. "%: " .. hs.message
  end
end
return hs

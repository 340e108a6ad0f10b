-- Argo CD resource actions of a ModelDeployment
-- (resource.customizations.actions.modelops.io_ModelDeployment), enabled
-- only when the operator would act on them (operator/rollout/actions.ts).
local actions = {}
local st = obj.status or {}
local inRollout = st.canaryVersion ~= nil and st.canaryVersion ~= "" and st.phase ~= "RolledBack"
-- After promotion, promote accepts a running post-promotion guard analysis.
local guardRunning = false
for _, run in ipairs(st.analysisRuns or {}) do
  if run.name == "postPromotion" and run.phase == "Running" then guardRunning = true end
end
actions["promote"] = {["disabled"] = not inRollout and not guardRunning}
actions["promote-full"] = {["disabled"] = not inRollout}
actions["abort"] = {["disabled"] = not inRollout}
actions["retry"] = {["disabled"] = st.phase ~= "RolledBack"}
actions["undo"] = {["disabled"] = not inRollout and (st.previousVersion == nil or st.previousVersion == "")}
return actions

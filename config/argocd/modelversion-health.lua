-- Argo CD health of a ModelVersion (resource.customizations.health.modelops.io_ModelVersion).
local hs = {status = "Progressing", message = "Waiting for the operator to validate the model"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
hs.message = obj.status.message or obj.status.phase
if obj.status.phase == "Ready" then
  hs.status = "Healthy"
elseif obj.status.phase == "Invalid" then
  hs.status = "Degraded"
end
return hs

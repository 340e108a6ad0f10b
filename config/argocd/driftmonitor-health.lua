-- Argo CD health of a DriftMonitor (resource.customizations.health.modelops.io_DriftMonitor).
-- Critical drift is Degraded so the app shows it; Warning stays Healthy
-- (Argo CD has no warning state) with the verdict in the message.
local hs = {status = "Progressing", message = "Waiting for the first drift evaluation"}
if obj.status == nil or obj.status.verdict == nil then
  return hs
end
local verdict = obj.status.verdict
hs.message = verdict
if obj.status.message ~= nil then hs.message = verdict .. ": " .. obj.status.message end
if verdict == "NoDrift" or verdict == "Warning" then
  hs.status = "Healthy"
elseif verdict == "Critical" then
  hs.status = "Degraded"
elseif verdict == "InsufficientData" then
  hs.status = "Progressing"
else
  hs.status = "Unknown"
end
return hs

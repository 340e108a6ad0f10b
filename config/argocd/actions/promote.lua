-- Sets modelops.io/action=promote@<time>: the operator acts once per distinct value.
-- Argo CD opens no global os table in actions, only this module with os.date and os.time.
local os = require("os")
if obj.metadata.annotations == nil then obj.metadata.annotations = {} end
obj.metadata.annotations["modelops.io/action"] = "promote@" .. os.date("!%Y%m%dT%H%M%SZ")
return obj

-- Sets modelops.io/action=retry@<time>: the operator acts once per distinct value.
if obj.metadata.annotations == nil then obj.metadata.annotations = {} end
obj.metadata.annotations["modelops.io/action"] = "retry@" .. os.date("!%Y%m%dT%H%M%SZ")
return obj

# Sourced by the scripts: Go settings this project needs on a fresh machine.
# The module proxy serves these modules but the checksum database refuses
# some of them; go.sum still pins every checksum. (github.com/edgexfoundry:
# the EdgeX module in interop/edgex.)
export GONOSUMDB="${GONOSUMDB:-github.com/openziti,github.com/michaelquigley,github.com/hashicorp,github.com/edgexfoundry}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
# The Go HTTP client libraries print every controller request, JWTs
# included, when these are set: never let them leak into ztedge's runs.
unset DEBUG SWAGGER_DEBUG

#!/bin/sh
# Package installs in an image build must not start daemons (there is no init).
# Images that run services under their own entrypoint delete this file.
exit 101

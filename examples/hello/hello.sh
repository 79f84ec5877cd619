#!/bin/sh
echo "Hello from an image Slipway built from commit $(cat /commit.txt)."

# Source this (". bench/accuracy/fastai/env.sh") before running the fastai scripts: fastai 2.7.11 and its packages
# from the folders export-sources.sh writes (PEERS, default /tmp/peers), on Debian's /usr/bin/python3 with
# python3-torch 1.13.1 and python3-torchvision 0.14.1.
peers="${PEERS:-/tmp/peers}"
export PYTHONPATH="$peers/fastai-2.7.11:$peers/fastcore:$peers/fastprogress:$peers/fastdownload${PYTHONPATH:+:$PYTHONPATH}"
# One intra-op pool of 2 threads (fastai_run.py --threads sets torch's); keeps OpenMP and MKL from oversubscribing.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-2}"
unset peers

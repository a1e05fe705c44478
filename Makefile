# `make demo` and `make test` do all set-up themselves on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .make-stamps
REQS := requirements/core.txt requirements/ros.txt requirements/dev.txt setup.py

.PHONY: demo test lint setup sysdeps clean colcon openvino robot-check robot-check-py310 robot-python

demo: setup
	$(VENV)/bin/vtr-perception demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q tests
	@$(MAKE) --no-print-directory robot-check-py310

# The model card's evaluation tables and quality gate from a fresh clone: builds the caches it needs (a few minutes).
.PHONY: eval
eval: setup
	$(PY) benchmarks/model_card.py all

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

setup: sysdeps $(STAMPS)/venv

# Open3D's wheel links libusb-1.0 (and libgomp); install them when missing and we are root.
sysdeps:
	@missing=""; \
	for lib in libusb-1.0.so.0:libusb-1.0-0 libgomp.so.1:libgomp1; do \
	  so=$${lib%%:*}; pkg=$${lib##*:}; \
	  ldconfig -p | grep -q "$$so" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	  else \
	    echo "missing system libraries: run 'sudo apt-get install$$missing' and retry"; exit 1; \
	  fi; \
	fi

$(STAMPS)/venv: $(REQS)
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 12), "Python 3.10-3.12 needed, got " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip uninstall -q -y onnxruntime-openvino 2>/dev/null || true  # `make openvino` shares its module
	$(PY) -m pip install -q -r requirements/core.txt -r requirements/ros.txt -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@mkdir -p $(STAMPS) && touch $@

# ONNX Runtime with the OpenVINO execution provider (x86_64 Linux CPUs): it replaces the onnxruntime
# package, and the next set-up after a requirements change puts onnxruntime back (run this again then).
openvino: setup
	$(PY) -m pip uninstall -q -y onnxruntime
	$(PY) -m pip install -q -r requirements/openvino.txt

# The run-time set on a robot's Python (`make robot-check PYTHON=python3.10`): a venv with setup.py's
# install_requires (requirements/runtime.txt), the pip ROS wheels and pytest, NumPy < 2 as beside a system
# ROS 2 (requirements/system-ros.txt); then the node tests (over DDS), the perception and the planner tests, with the
# ONNX Runtime backend. Training packages must not be there, and tests that need them skip.
ROBOT_TAG = $(or $(shell $(PYTHON) -c 'import sys; print("py%d%d" % sys.version_info[:2])' 2>/dev/null),none)
ROBOT_VENV = .venv-robot-$(ROBOT_TAG)
ROBOT_REQS := requirements/runtime.txt requirements/ros.txt requirements/system-ros.txt requirements/dev.txt setup.py
ROBOT_TESTS := tests/ros tests/perception tests/nbv
TRAINING_PACKAGES := torch diffusers accelerate transformers pybullet matplotlib

robot-check: $(STAMPS)/robot-venv-$(ROBOT_TAG)
	@$(ROBOT_VENV)/bin/python -c 'import importlib.util as u, sys; bad = [m for m in sys.argv[1:] if u.find_spec(m)]; \
	  sys.exit(f"training packages in the run-time set: {bad}" if bad else None)' $(TRAINING_PACKAGES)
	$(ROBOT_VENV)/bin/python -m pytest -q -p no:cacheprovider $(ROBOT_TESTS)

robot-python:
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 12), "Python 3.10-3.12 needed, got " + sys.version' \
	  || { echo "robot-check: $(PYTHON) is not a working Python 3.10-3.12"; exit 1; }

$(STAMPS)/robot-venv-%: $(ROBOT_REQS) | robot-python
	rm -rf .venv-robot-$*
	$(PYTHON) -m venv $(ROBOT_VENV)
	$(ROBOT_VENV)/bin/python -m pip install -q --upgrade pip
	$(ROBOT_VENV)/bin/python -m pip install -q -c requirements/system-ros.txt -r requirements/ros.txt \
	  "$$(grep '^pytest==' requirements/dev.txt)" -e .
	@mkdir -p $(STAMPS) && touch $@

# `make test` runs robot-check with Python 3.10 (Ubuntu 22.04, Humble, JetPack 6) when one works here.
robot-check-py310:
	@py=""; for p in python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10); do \
	  if $$p -c "" 2>/dev/null; then py=$$p; break; fi; \
	done; \
	if [ -n "$$py" ]; then $(MAKE) --no-print-directory robot-check PYTHON=$$py; \
	else echo "robot-check skipped: no working python3.10 here ('make robot-check PYTHON=python3.10' once there is one)"; fi

# Build the package the way a robot does (colcon, ament_python) into ros2_ws/install.
colcon: setup
	cd ros2_ws && ../$(VENV)/bin/colcon build --symlink-install

clean:
	rm -rf $(VENV) .venv-robot-py3* $(STAMPS) ros2_ws/build ros2_ws/install ros2_ws/log

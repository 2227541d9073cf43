#pragma once
// Transitional: WorkerPool moved to core/runtime (hub/runtime/WorkerPool.h,
// hub::runtime::WorkerPool). Kept only for core/app/src/HubApplication.cpp and
// core/api/src/AdminRoutes.cpp, which are being split in parallel; remove once
// they include hub/runtime/WorkerPool.h.

#include "hub/runtime/WorkerPool.h"

namespace hub::host {
using WorkerPool = runtime::WorkerPool;  ///< Transitional name; use hub::runtime::WorkerPool.
}  // namespace hub::host

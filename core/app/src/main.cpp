#include "HubApplication.h"

#include <iostream>

POCO_SERVER_MAIN(hub::app::HubApplication)

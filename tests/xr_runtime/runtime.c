/* runtime.c - loader negotiation, function lookup, instance, system, paths, events and the
 * test hooks that do not need a session. */
#include "xrt.h"

#include <openxr/openxr_reflection.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

Runtime rt;

/* In the order of the EXT_* bits. */
static const char *const xrt_extension_names[N_EXTENSIONS] = {
    XR_KHR_OPENGL_ENABLE_EXTENSION_NAME,   XR_MNDX_EGL_ENABLE_EXTENSION_NAME,
    XR_MND_HEADLESS_EXTENSION_NAME,        XR_EXT_HAND_TRACKING_EXTENSION_NAME,
    XR_HTCX_VIVE_TRACKER_INTERACTION_EXTENSION_NAME, XR_KHR_CONVERT_TIMESPEC_TIME_EXTENSION_NAME,
    XR_EXT_HP_MIXED_REALITY_CONTROLLER_EXTENSION_NAME, XR_BD_CONTROLLER_INTERACTION_EXTENSION_NAME};
static const uint32_t extension_versions[N_EXTENSIONS] = {
    XR_KHR_opengl_enable_SPEC_VERSION,   XR_MNDX_egl_enable_SPEC_VERSION,
    XR_MND_headless_SPEC_VERSION,        XR_EXT_hand_tracking_SPEC_VERSION,
    XR_HTCX_vive_tracker_interaction_SPEC_VERSION, XR_KHR_convert_timespec_time_SPEC_VERSION,
    XR_EXT_hp_mixed_reality_controller_SPEC_VERSION, XR_BD_controller_interaction_SPEC_VERSION};
const char *const xrt_roles[XRT_ROLES] = {
    "handheld_object", "left_foot",  "right_foot", "left_shoulder", "right_shoulder",
    "left_elbow",      "right_elbow", "left_knee", "right_knee",    "left_wrist",
    "right_wrist",     "left_ankle", "right_ankle", "waist",        "chest",
    "camera",          "keyboard"};

/* ---- the function table --------------------------------------------------------------- */
#define FN(name, ext) {#name, (PFN_xrVoidFunction)name, ext}
static const struct {
    const char *name;
    PFN_xrVoidFunction fn;
    unsigned ext; /* 0: core 1.0, else the extension (or API_1_1) that must be enabled */
} functions[] = {
    FN(xrGetInstanceProcAddr, 0), FN(xrEnumerateInstanceExtensionProperties, 0),
    FN(xrCreateInstance, 0), FN(xrDestroyInstance, 0), FN(xrGetInstanceProperties, 0),
    FN(xrPollEvent, 0), FN(xrResultToString, 0), FN(xrStructureTypeToString, 0),
    FN(xrGetSystem, 0), FN(xrGetSystemProperties, 0), FN(xrEnumerateEnvironmentBlendModes, 0),
    FN(xrCreateSession, 0), FN(xrDestroySession, 0), FN(xrEnumerateReferenceSpaces, 0),
    FN(xrCreateReferenceSpace, 0), FN(xrGetReferenceSpaceBoundsRect, 0),
    FN(xrCreateActionSpace, 0), FN(xrLocateSpace, 0), FN(xrDestroySpace, 0),
    FN(xrEnumerateViewConfigurations, 0), FN(xrGetViewConfigurationProperties, 0),
    FN(xrEnumerateViewConfigurationViews, 0), FN(xrEnumerateSwapchainFormats, 0),
    FN(xrCreateSwapchain, 0), FN(xrDestroySwapchain, 0), FN(xrEnumerateSwapchainImages, 0),
    FN(xrAcquireSwapchainImage, 0), FN(xrWaitSwapchainImage, 0),
    FN(xrReleaseSwapchainImage, 0), FN(xrBeginSession, 0), FN(xrEndSession, 0),
    FN(xrRequestExitSession, 0), FN(xrWaitFrame, 0), FN(xrBeginFrame, 0), FN(xrEndFrame, 0),
    FN(xrLocateViews, 0), FN(xrStringToPath, 0), FN(xrPathToString, 0),
    FN(xrCreateActionSet, 0), FN(xrDestroyActionSet, 0), FN(xrCreateAction, 0),
    FN(xrDestroyAction, 0), FN(xrSuggestInteractionProfileBindings, 0),
    FN(xrAttachSessionActionSets, 0), FN(xrGetCurrentInteractionProfile, 0),
    FN(xrGetActionStateBoolean, 0), FN(xrGetActionStateFloat, 0),
    FN(xrGetActionStateVector2f, 0), FN(xrGetActionStatePose, 0), FN(xrSyncActions, 0),
    FN(xrEnumerateBoundSourcesForAction, 0), FN(xrApplyHapticFeedback, 0),
    FN(xrStopHapticFeedback, 0),
    FN(xrGetOpenGLGraphicsRequirementsKHR, EXT_OPENGL),
    FN(xrCreateHandTrackerEXT, EXT_HAND), FN(xrDestroyHandTrackerEXT, EXT_HAND),
    FN(xrLocateHandJointsEXT, EXT_HAND), FN(xrEnumerateViveTrackerPathsHTCX, EXT_TRACKER),
    FN(xrConvertTimespecTimeToTimeKHR, EXT_TIMESPEC),
    FN(xrConvertTimeToTimespecTimeKHR, EXT_TIMESPEC), FN(xrLocateSpaces, API_1_1),
};
#define N_FUNCTIONS (sizeof functions / sizeof functions[0])
static uint32_t calls[N_FUNCTIONS]; /* per process, never reset */

void xrt_count(int *slot, const char *fn) {
    if (*slot < 0)
        for (size_t i = 0; i < N_FUNCTIONS; i++)
            if (!strcmp(functions[i].name, fn)) *slot = (int)i;
    if (*slot >= 0) calls[*slot]++;
}

XrResult xrGetInstanceProcAddr(XrInstance instance, const char *name,
                               PFN_xrVoidFunction *function) {
    ENTER_ALWAYS();
    *function = NULL;
    int pre_instance = !strcmp(name, "xrEnumerateInstanceExtensionProperties") ||
                       !strcmp(name, "xrCreateInstance");
    if (instance == XR_NULL_HANDLE ? !pre_instance : (uint64_t)instance != rt.instance)
        return XR_ERROR_HANDLE_INVALID;
    for (size_t i = 0; i < N_FUNCTIONS; i++) {
        if (strcmp(functions[i].name, name) != 0) continue;
        if (functions[i].ext && !(rt.enabled & functions[i].ext))
            return XR_ERROR_FUNCTION_UNSUPPORTED;
        *function = functions[i].fn;
        return XR_SUCCESS;
    }
    return XR_ERROR_FUNCTION_UNSUPPORTED;
}

/* The loader-runtime negotiation structures (openxr_loader_negotiation.h, not part of the
 * 1.0.20 headers this builds against), declared as the loader specification gives them. */
typedef enum {
    XR_LOADER_INTERFACE_STRUCT_LOADER_INFO = 1,
    XR_LOADER_INTERFACE_STRUCT_RUNTIME_REQUEST = 3
} XrLoaderInterfaceStructs;
typedef struct {
    XrLoaderInterfaceStructs structType;
    uint32_t structVersion;
    size_t structSize;
    uint32_t minInterfaceVersion, maxInterfaceVersion;
    XrVersion minApiVersion, maxApiVersion;
} XrNegotiateLoaderInfo;
typedef struct {
    XrLoaderInterfaceStructs structType;
    uint32_t structVersion;
    size_t structSize;
    uint32_t runtimeInterfaceVersion;
    XrVersion runtimeApiVersion;
    PFN_xrGetInstanceProcAddr getInstanceProcAddr;
} XrNegotiateRuntimeRequest;

XRT_EXPORT XrResult xrNegotiateLoaderRuntimeInterface(const XrNegotiateLoaderInfo *info,
                                                      XrNegotiateRuntimeRequest *request) {
    if (rt.vanished) return XR_ERROR_INITIALIZATION_FAILED; /* gone until vrgmi_xrt_reset */
    if (!info || !request || info->structType != XR_LOADER_INTERFACE_STRUCT_LOADER_INFO ||
        info->structVersion != 1 || info->structSize != sizeof *info ||
        request->structType != XR_LOADER_INTERFACE_STRUCT_RUNTIME_REQUEST ||
        request->structVersion != 1 || request->structSize != sizeof *request ||
        info->minInterfaceVersion > 1 || info->maxInterfaceVersion < 1 ||
        info->minApiVersion > XR_MAKE_VERSION(1, 1, 0xFFFFFFFF) ||
        info->maxApiVersion < XR_MAKE_VERSION(1, 0, 0))
        return XR_ERROR_INITIALIZATION_FAILED;
    request->runtimeInterfaceVersion = 1;
    request->runtimeApiVersion = max_api_version();
    request->getInstanceProcAddr = xrGetInstanceProcAddr;
    return XR_SUCCESS;
}

/* ---- helpers ---------------------------------------------------------------------------- */
/* The highest API version instances may ask for: 1.1, or 1.0 with VRGMI_XRT_API=1.0. */
XrVersion max_api_version(void) {
    const char *env = getenv("VRGMI_XRT_API");
    return env && !strcmp(env, "1.0") ? XR_MAKE_VERSION(1, 0, 0xFFFFFFFF)
                                      : XR_MAKE_VERSION(1, 1, 0xFFFFFFFF);
}

void xrt_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt.error, sizeof rt.error, fmt, ap);
    va_end(ap);
    fprintf(stderr, "vrgmi test runtime: %s\n", rt.error);
}

uint64_t new_handle(void) { return ++rt.next_handle; }

void *find_object(void *table, size_t stride, size_t count, uint64_t handle) {
    for (size_t i = 0; i < count; i++) {
        uint64_t *h = (uint64_t *)((char *)table + i * stride); /* handle is the 1st field */
        if (*h == handle) return h;
    }
    return NULL;
}

XrResult check_instance(XrInstance instance) {
    if ((uint64_t)instance != rt.instance || !rt.instance) return XR_ERROR_HANDLE_INVALID;
    return rt.instance_lost ? XR_ERROR_INSTANCE_LOST : XR_SUCCESS;
}

XrResult check_session(XrSession session) {
    if ((uint64_t)session != rt.session.handle || !rt.session.handle)
        return XR_ERROR_HANDLE_INVALID;
    if (rt.instance_lost) return XR_ERROR_INSTANCE_LOST;
    return rt.session.lost ? XR_ERROR_SESSION_LOST : XR_SUCCESS;
}

XrResult session_ok(XrResult ok) {
    return ok == XR_SUCCESS && rt.session.loss_pending ? XR_SESSION_LOSS_PENDING : ok;
}

XrResult two_call(uint32_t capacity, uint32_t *count_out, uint32_t count) {
    *count_out = count;
    return capacity && capacity < count ? XR_ERROR_SIZE_INSUFFICIENT : XR_SUCCESS;
}

XrResult fill_string(char *dst, uint32_t capacity, uint32_t *count_out, const char *src) {
    uint32_t n = (uint32_t)strlen(src) + 1;
    CHECK(two_call(capacity, count_out, n));
    if (capacity) memcpy(dst, src, n);
    return XR_SUCCESS;
}

void *struct_in_chain(const void *chain, XrStructureType type) {
    for (const XrBaseInStructure *s = chain; s; s = s->next)
        if (s->type == type) return (void *)s;
    return NULL;
}

XrTime frame_time(int64_t frame) {
    return XRT_START_NS + (XrTime)llround((double)frame * 1e9 / rt.rate);
}

XrTime now_time(void) {
    return frame_time(rt.waited > 0 ? rt.waited - 1 : 0);
}

/* ---- paths ------------------------------------------------------------------------------ */
XrPath path_intern(const char *s) {
    for (uint32_t i = 0; i < rt.n_paths; i++)
        if (!strcmp(rt.paths[i], s)) return i + 1;
    if (rt.n_paths == MAX_PATHS) return XR_NULL_PATH;
    rt.paths[rt.n_paths++] = strdup(s);
    return rt.n_paths;
}

const char *path_string(XrPath p) {
    return p >= 1 && p <= rt.n_paths ? rt.paths[p - 1] : NULL;
}

/* A well-formed path: /component[/component...] of [a-z0-9-_.], not only dots. */
static int path_well_formed(const char *s) {
    size_t n = strlen(s);
    if (n < 2 || n >= XR_MAX_PATH_LENGTH || s[0] != '/' || s[n - 1] == '/') return 0;
    for (const char *c = s; *c; c++) {
        if (*c == '/') {
            size_t len = strcspn(c + 1, "/");
            if (!len || strspn(c + 1, ".") >= len) return 0;
        } else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                     strchr("-_.", *c))) {
            return 0;
        }
    }
    return 1;
}

XrResult xrStringToPath(XrInstance instance, const char *s, XrPath *path) {
    ENTER();
    CHECK(check_instance(instance));
    if (!path_well_formed(s)) return XR_ERROR_PATH_FORMAT_INVALID;
    *path = path_intern(s);
    return *path ? XR_SUCCESS : XR_ERROR_PATH_COUNT_EXCEEDED;
}

XrResult xrPathToString(XrInstance instance, XrPath path, uint32_t capacity,
                        uint32_t *count_out, char *buffer) {
    ENTER();
    CHECK(check_instance(instance));
    const char *s = path_string(path);
    return s ? fill_string(buffer, capacity, count_out, s) : XR_ERROR_PATH_INVALID;
}

/* ---- events ----------------------------------------------------------------------------- */
void push_event(const void *event, size_t size) {
    if (rt.ev_count == MAX_EVENTS) {
        rt.ev_lost++;
        return;
    }
    XrEventDataBuffer *e = &rt.events[(rt.ev_head + rt.ev_count++) % MAX_EVENTS];
    memset(e, 0, sizeof *e);
    memcpy(e, event, size);
}

void set_state(XrSessionState state) {
    XrEventDataSessionStateChanged ev = {XR_TYPE_EVENT_DATA_SESSION_STATE_CHANGED, NULL,
                                         (XrSession)rt.session.handle, state, now_time()};
    rt.session.state = state;
    push_event(&ev, sizeof ev);
}

XrResult xrPollEvent(XrInstance instance, XrEventDataBuffer *out) {
    ENTER();
    if ((uint64_t)instance != rt.instance || !rt.instance) return XR_ERROR_HANDLE_INVALID;
    if (rt.ev_lost) { /* delivered first: the events after it are in order again */
        XrEventDataEventsLost ev = {XR_TYPE_EVENT_DATA_EVENTS_LOST, NULL, rt.ev_lost};
        memcpy(out, &ev, sizeof ev);
        rt.ev_lost = 0;
        return XR_SUCCESS;
    }
    if (!rt.ev_count) return rt.instance_lost ? XR_ERROR_INSTANCE_LOST : XR_EVENT_UNAVAILABLE;
    *out = rt.events[rt.ev_head];
    rt.ev_head = (rt.ev_head + 1) % MAX_EVENTS;
    rt.ev_count--;
    return XR_SUCCESS;
}

/* ---- instance ----------------------------------------------------------------------------- */
/* The extensions offered: all, or those named in VRGMI_XRT_EXTENSIONS (comma list). */
static unsigned offered_extensions(void) {
    const char *env = getenv("VRGMI_XRT_EXTENSIONS");
    if (!env) return (1u << N_EXTENSIONS) - 1;
    unsigned mask = 0;
    for (int i = 0; i < N_EXTENSIONS; i++) {
        size_t n = strlen(xrt_extension_names[i]);
        for (const char *p = strstr(env, xrt_extension_names[i]); p;
             p = strstr(p + 1, xrt_extension_names[i]))
            if ((p == env || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) mask |= 1u << i;
    }
    return mask;
}

XrResult xrEnumerateInstanceExtensionProperties(const char *layer, uint32_t capacity,
                                                uint32_t *count_out,
                                                XrExtensionProperties *props) {
    ENTER();
    if (layer) return XR_ERROR_API_LAYER_NOT_PRESENT;
    unsigned offered = offered_extensions();
    uint32_t n = (uint32_t)__builtin_popcount(offered);
    CHECK(two_call(capacity, count_out, n));
    for (uint32_t i = 0, k = 0; i < N_EXTENSIONS && capacity; i++) {
        if (!(offered & 1u << i)) continue;
        strcpy(props[k].extensionName, xrt_extension_names[i]);
        props[k++].extensionVersion = extension_versions[i];
    }
    return XR_SUCCESS;
}

static double monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Reads the VRGMI_XRT_* configuration; 0 or -1 (with rt.error set). */
static int configure(void) {
    const char *rate = getenv("VRGMI_XRT_RATE"), *size = getenv("VRGMI_XRT_VIEW_SIZE");
    const char *profile = getenv("VRGMI_XRT_PROFILE"), *rt_env = getenv("VRGMI_XRT_REALTIME");
    const char *replay = getenv("VRGMI_XRT_REPLAY"), *events = getenv("VRGMI_XRT_EVENTS");
    rt.rate = rate ? strtod(rate, NULL) : 90.0;
    if (!(rt.rate > 0 && rt.rate <= 1000)) {
        xrt_error("VRGMI_XRT_RATE=%s is not a rate in Hz (0, 1000]", rate);
        return -1;
    }
    rt.view_w = rt.view_h = 256;
    if (size && (sscanf(size, "%ux%u", &rt.view_w, &rt.view_h) != 2 || !rt.view_w ||
                 !rt.view_h || rt.view_w > 4096 || rt.view_h > 4096)) {
        xrt_error("VRGMI_XRT_VIEW_SIZE=%s is not WxH (1..4096)", size);
        return -1;
    }
    rt.realtime = rt_env && !strcmp(rt_env, "1");
    replay_free(&rt.replay); /* the previous instance's, kept for head_pose_at */
    if (replay && *replay && replay_load(replay, &rt.replay, rt.error, sizeof rt.error)) {
        fprintf(stderr, "vrgmi test runtime: %s\n", rt.error);
        return -1;
    }
    if (!rt.configured) { /* the first instance of a run */
        snprintf(rt.profile, sizeof rt.profile, "%s",
                 profile ? profile : "/interaction_profiles/oculus/touch_controller");
        rt.clock_epoch = monotonic();
        if (events && *events && script_load(events)) return -1;
        rt.configured = 1;
    }
    rt.hand_profile = path_intern(rt.profile);
    return 0;
}

/* Frees everything of the previous instance; what belongs to the run (see Runtime) stays,
 * and so does the replay (until the next instance or run), so the head pose hook works
 * after the application has shut down. */
static void instance_reset(void) {
    session_reset();
    input_reset();
    for (uint32_t i = 0; i < rt.n_paths; i++) free(rt.paths[i]);
    rt.n_paths = 0;
    rt.instance = 0;
    rt.enabled = 0;
    rt.instance_lost = rt.got_gl_requirements = 0;
    rt.loss_time = 0;
    rt.ev_head = rt.ev_count = rt.ev_lost = 0;
}

XrResult xrCreateInstance(const XrInstanceCreateInfo *info, XrInstance *instance) {
    ENTER();
    if (rt.instance) return XR_ERROR_LIMIT_REACHED;
    XrVersion v = info->applicationInfo.apiVersion;
    if (XR_VERSION_MAJOR(v) != 1 || XR_VERSION_MINOR(v) > XR_VERSION_MINOR(max_api_version()))
        return XR_ERROR_API_VERSION_UNSUPPORTED;
    unsigned offered = offered_extensions(), enabled = XR_VERSION_MINOR(v) ? API_1_1 : 0;
    for (uint32_t i = 0; i < info->enabledExtensionCount; i++) {
        unsigned bit = 0;
        for (int k = 0; k < N_EXTENSIONS; k++)
            if (!strcmp(info->enabledExtensionNames[i], xrt_extension_names[k])) bit = 1u << k;
        if (!(bit & offered)) return XR_ERROR_EXTENSION_NOT_PRESENT;
        enabled |= bit;
    }
    instance_reset();
    rt.error[0] = 0;
    if (configure()) {
        instance_reset();
        return XR_ERROR_INITIALIZATION_FAILED;
    }
    rt.enabled = enabled;
    rt.instance = new_handle();
    *instance = (XrInstance)rt.instance;
    return XR_SUCCESS;
}

XrResult xrDestroyInstance(XrInstance instance) {
    ENTER_ALWAYS();
    if ((uint64_t)instance != rt.instance || !rt.instance) return XR_ERROR_HANDLE_INVALID;
    instance_reset();
    return XR_SUCCESS;
}

XrResult xrGetInstanceProperties(XrInstance instance, XrInstanceProperties *props) {
    ENTER();
    CHECK(check_instance(instance));
    props->runtimeVersion = XR_MAKE_VERSION(0, 1, 0);
    snprintf(props->runtimeName, sizeof props->runtimeName, "vrgmi test runtime");
    return XR_SUCCESS;
}

#define TO_STRING_CASE(name, value) case name: return #name;
static const char *result_name(XrResult r) {
    switch (r) { XR_LIST_ENUM_XrResult(TO_STRING_CASE) default: return NULL; }
}
static const char *structure_name(XrStructureType t) {
    switch (t) { XR_LIST_ENUM_XrStructureType(TO_STRING_CASE) default: return NULL; }
}

XrResult xrResultToString(XrInstance instance, XrResult value,
                          char buffer[XR_MAX_RESULT_STRING_SIZE]) {
    ENTER();
    CHECK(check_instance(instance));
    const char *s = result_name(value);
    if (s) snprintf(buffer, XR_MAX_RESULT_STRING_SIZE, "%s", s);
    else snprintf(buffer, XR_MAX_RESULT_STRING_SIZE, "XR_UNKNOWN_%s_%d",
                  XR_SUCCEEDED(value) ? "SUCCESS" : "FAILURE", (int)value);
    return XR_SUCCESS;
}

XrResult xrStructureTypeToString(XrInstance instance, XrStructureType value,
                                 char buffer[XR_MAX_STRUCTURE_NAME_SIZE]) {
    ENTER();
    CHECK(check_instance(instance));
    const char *s = structure_name(value);
    if (s) snprintf(buffer, XR_MAX_STRUCTURE_NAME_SIZE, "%s", s);
    else snprintf(buffer, XR_MAX_STRUCTURE_NAME_SIZE, "XR_UNKNOWN_STRUCTURE_TYPE_%d",
                  (int)value);
    return XR_SUCCESS;
}

/* ---- system --------------------------------------------------------------------------- */
#define SYSTEM_ID 1

static XrResult check_system(XrInstance instance, XrSystemId system) {
    CHECK(check_instance(instance));
    return system == SYSTEM_ID ? XR_SUCCESS : XR_ERROR_SYSTEM_INVALID;
}

XrResult xrGetSystem(XrInstance instance, const XrSystemGetInfo *info, XrSystemId *system) {
    ENTER();
    CHECK(check_instance(instance));
    if (info->formFactor != XR_FORM_FACTOR_HEAD_MOUNTED_DISPLAY)
        return XR_ERROR_FORM_FACTOR_UNSUPPORTED;
    *system = SYSTEM_ID;
    return XR_SUCCESS;
}

XrResult xrGetSystemProperties(XrInstance instance, XrSystemId system,
                               XrSystemProperties *props) {
    ENTER();
    CHECK(check_system(instance, system));
    props->systemId = system;
    props->vendorId = 0x7672; /* "vr" */
    snprintf(props->systemName, sizeof props->systemName, "vrgmi scripted HMD");
    props->graphicsProperties = (XrSystemGraphicsProperties){4096, 4096, MAX_LAYERS};
    props->trackingProperties = (XrSystemTrackingProperties){XR_TRUE, XR_TRUE};
    XrSystemHandTrackingPropertiesEXT *hand =
        struct_in_chain(props->next, XR_TYPE_SYSTEM_HAND_TRACKING_PROPERTIES_EXT);
    if (hand) hand->supportsHandTracking = (rt.enabled & EXT_HAND) ? XR_TRUE : XR_FALSE;
    return XR_SUCCESS;
}

XrResult xrEnumerateEnvironmentBlendModes(XrInstance instance, XrSystemId system,
                                          XrViewConfigurationType type, uint32_t capacity,
                                          uint32_t *count_out, XrEnvironmentBlendMode *modes) {
    ENTER();
    CHECK(check_system(instance, system));
    if (type != XR_VIEW_CONFIGURATION_TYPE_PRIMARY_STEREO)
        return XR_ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED;
    CHECK(two_call(capacity, count_out, 1));
    if (capacity) modes[0] = XR_ENVIRONMENT_BLEND_MODE_OPAQUE;
    return XR_SUCCESS;
}

XrResult xrEnumerateViewConfigurations(XrInstance instance, XrSystemId system,
                                       uint32_t capacity, uint32_t *count_out,
                                       XrViewConfigurationType *types) {
    ENTER();
    CHECK(check_system(instance, system));
    CHECK(two_call(capacity, count_out, 1));
    if (capacity) types[0] = XR_VIEW_CONFIGURATION_TYPE_PRIMARY_STEREO;
    return XR_SUCCESS;
}

XrResult xrGetViewConfigurationProperties(XrInstance instance, XrSystemId system,
                                          XrViewConfigurationType type,
                                          XrViewConfigurationProperties *props) {
    ENTER();
    CHECK(check_system(instance, system));
    if (type != XR_VIEW_CONFIGURATION_TYPE_PRIMARY_STEREO)
        return XR_ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED;
    props->viewConfigurationType = type;
    props->fovMutable = XR_TRUE;
    return XR_SUCCESS;
}

XrResult xrEnumerateViewConfigurationViews(XrInstance instance, XrSystemId system,
                                           XrViewConfigurationType type, uint32_t capacity,
                                           uint32_t *count_out,
                                           XrViewConfigurationView *views) {
    ENTER();
    CHECK(check_system(instance, system));
    if (type != XR_VIEW_CONFIGURATION_TYPE_PRIMARY_STEREO)
        return XR_ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED;
    CHECK(two_call(capacity, count_out, 2));
    for (uint32_t i = 0; i < 2 && capacity; i++) {
        views[i].recommendedImageRectWidth = rt.view_w;
        views[i].recommendedImageRectHeight = rt.view_h;
        views[i].maxImageRectWidth = views[i].maxImageRectHeight = 4096;
        views[i].recommendedSwapchainSampleCount = views[i].maxSwapchainSampleCount = 1;
    }
    return XR_SUCCESS;
}

XrResult xrGetOpenGLGraphicsRequirementsKHR(XrInstance instance, XrSystemId system,
                                            XrGraphicsRequirementsOpenGLKHR *req) {
    ENTER();
    CHECK(check_system(instance, system));
    req->minApiVersionSupported = XR_MAKE_VERSION(3, 3, 0);
    req->maxApiVersionSupported = XR_MAKE_VERSION(4, 6, 0);
    rt.got_gl_requirements = 1;
    return XR_SUCCESS;
}

/* ---- XR_KHR_convert_timespec_time: XrTime = XRT_START_NS at rt.clock_epoch -------------- */
XrResult xrConvertTimespecTimeToTimeKHR(XrInstance instance, const struct timespec *ts,
                                        XrTime *time) {
    ENTER();
    CHECK(check_instance(instance));
    double s = (double)ts->tv_sec + ts->tv_nsec * 1e-9 - rt.clock_epoch;
    *time = XRT_START_NS + (XrTime)llround(s * 1e9);
    return *time > 0 ? XR_SUCCESS : XR_ERROR_TIME_INVALID;
}

XrResult xrConvertTimeToTimespecTimeKHR(XrInstance instance, XrTime time,
                                        struct timespec *ts) {
    ENTER();
    CHECK(check_instance(instance));
    if (time <= 0) return XR_ERROR_TIME_INVALID;
    int64_t ns = (int64_t)llround(rt.clock_epoch * 1e9) + (time - XRT_START_NS);
    ts->tv_sec = (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
    return XR_SUCCESS;
}

/* Realtime mode: xrWaitFrame sleeps until one period before the frame's display time. */
void wait_until(XrTime display_time) {
    double due = rt.clock_epoch + (double)(display_time - XRT_START_NS) * 1e-9 - 1.0 / rt.rate;
    double left = due - monotonic();
    if (left <= 0) return;
    struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- test hooks ------------------------------------------------------------------------- */
XRT_EXPORT uint32_t vrgmi_xrt_call_count(const char *name) {
    for (size_t i = 0; i < N_FUNCTIONS; i++)
        if (!strcmp(functions[i].name, name)) return calls[i];
    return 0;
}

/* Starts a new run: forgets the frame count, script progress, inputs, frame log, images
 * and a vanish. Refused (-1) while an instance exists. */
XRT_EXPORT int vrgmi_xrt_reset(void) {
    if (rt.instance) return -1;
    replay_free(&rt.replay);
    rt.configured = rt.vanished = 0;
    rt.waited = 0;
    rt.n_directives = rt.applied = rt.n_inputs = 0;
    free(rt.log);
    rt.log = NULL;
    rt.n_log = rt.cap_log = 0;
    for (int e = 0; e < 2; e++) {
        free(rt.snapshot[e]);
        rt.snapshot[e] = NULL;
    }
    rt.error[0] = 0;
    return 0;
}

XRT_EXPORT const char *vrgmi_xrt_function_name(size_t i) {
    return i < N_FUNCTIONS ? functions[i].name : NULL;
}

XRT_EXPORT const char *vrgmi_xrt_last_error(void) { return rt.error; }

XRT_EXPORT int64_t vrgmi_xrt_frame_count(void) { return rt.waited; }

XRT_EXPORT size_t vrgmi_xrt_frame_log(FrameRecord *out, size_t capacity) {
    for (size_t i = 0; i < rt.n_log && i < capacity; i++) out[i] = rt.log[i];
    return rt.n_log;
}

XRT_EXPORT int vrgmi_xrt_head_pose_at(int64_t time, double out[7]) {
    XrPosef p;
    int valid = head_pose(time, &p);
    double v[7] = {p.position.x, p.position.y, p.position.z, p.orientation.x,
                   p.orientation.y, p.orientation.z, p.orientation.w};
    memcpy(out, v, sizeof v);
    return valid;
}

XRT_EXPORT int vrgmi_xrt_inject(const char *directive) {
    if (directive_apply(directive, 0, 1)) return -1;
    if (rt.n_directives == MAX_DIRECTIVES) {
        xrt_error("too many directives");
        return -1;
    }
    /* Applied by the next xrWaitFrame: keyed by the next frame index, after the script's
     * directives for that frame (the list stays sorted by frame). */
    uint32_t i = rt.applied;
    while (i < rt.n_directives && rt.directives[i].frame <= rt.waited) i++;
    memmove(&rt.directives[i + 1], &rt.directives[i],
            (rt.n_directives++ - i) * sizeof rt.directives[0]);
    rt.directives[i].frame = rt.waited;
    snprintf(rt.directives[i].text, sizeof rt.directives[i].text, "%s", directive);
    return 0;
}

/* xrt.h - internal declarations of the vrgmi scripted OpenXR test runtime.
 *
 * One process-wide runtime state `rt` (one instance and one session at a time; the runtime
 * is single-threaded: every call comes from the application's thread). Handles are opaque
 * 64-bit ids looked up in small fixed tables, so a stale or foreign handle is reported as
 * XR_ERROR_HANDLE_INVALID instead of being dereferenced. All API functions are built with
 * hidden visibility (-fvisibility=hidden): only the loader entry point and the vrgmi_xrt_*
 * test hooks are exported, so nothing can interpose the loader's own xr* symbols. */
#ifndef VRGMI_XRT_H
#define VRGMI_XRT_H

#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <EGL/egl.h>
#include <GL/glcorearb.h>
#define XR_USE_PLATFORM_EGL
#define XR_USE_GRAPHICS_API_OPENGL
#define XR_USE_TIMESPEC
#define XR_EXTENSION_PROTOTYPES
#include <openxr/openxr.h>
#include <openxr/openxr_platform.h>

#define XRT_EXPORT __attribute__((visibility("default")))
#define XRT_START_NS 1000000000LL /* predicted display time of frame 0 */
#define XRT_IPD 0.064
#define XRT_JOINTS XR_HAND_JOINT_COUNT_EXT /* 26 */
#define XRT_ROLES 17                       /* XR_HTCX_vive_tracker_interaction roles */
#define XRT_SUB_MAX 24                     /* subaction paths per action */
#define XRT_IMAGES 3                       /* images per swapchain */

enum { MAX_PATHS = 4096, MAX_SETS = 32, MAX_ACTIONS = 256, MAX_BINDINGS = 1024,
       MAX_SPACES = 256, MAX_SWAPCHAINS = 16, MAX_HAND_TRACKERS = 8, MAX_EVENTS = 64,
       MAX_INPUTS = 128, MAX_DIRECTIVES = 1024, MAX_LAYERS = 16 };

/* Extensions, as bits of rt.enabled (and of the offered mask); API_1_1 marks an instance of
 * OpenXR 1.1, whose core includes what XR_EXT_hp_mixed_reality_controller,
 * XR_BD_controller_interaction, XR_EXT_local_floor and XR_KHR_locate_spaces add to 1.0. */
enum { EXT_OPENGL = 1, EXT_EGL = 2, EXT_HEADLESS = 4, EXT_HAND = 8, EXT_TRACKER = 16,
       EXT_TIMESPEC = 32, EXT_HP = 64, EXT_BD = 128, N_EXTENSIONS = 8, API_1_1 = 1 << 16 };
#define XRT_API_1_1 XR_MAKE_VERSION(1, 1, 0)

/* What the 1.0.20 headers lack: XR_BD_controller_interaction and the OpenXR 1.1 core
 * additions the runtime implements (LOCAL_FLOOR, xrLocateSpaces), as the 1.1 registry
 * defines them. */
#ifndef XR_BD_controller_interaction
#define XR_BD_controller_interaction 1
#define XR_BD_controller_interaction_SPEC_VERSION 2
#define XR_BD_CONTROLLER_INTERACTION_EXTENSION_NAME "XR_BD_controller_interaction"
#endif
#ifndef XR_VERSION_1_1
#define XR_REFERENCE_SPACE_TYPE_LOCAL_FLOOR ((XrReferenceSpaceType)1000426000)
#define XR_TYPE_SPACES_LOCATE_INFO ((XrStructureType)1000471000)
#define XR_TYPE_SPACE_LOCATIONS ((XrStructureType)1000471001)
typedef struct XrSpacesLocateInfo {
    XrStructureType type;
    const void *next;
    XrSpace baseSpace;
    XrTime time;
    uint32_t spaceCount;
    const XrSpace *spaces;
} XrSpacesLocateInfo;
typedef struct XrSpaceLocationData {
    XrSpaceLocationFlags locationFlags;
    XrPosef pose;
} XrSpaceLocationData;
typedef struct XrSpaceLocations {
    XrStructureType type;
    void *next;
    uint32_t locationCount;
    XrSpaceLocationData *locations;
} XrSpaceLocations;
XrResult xrLocateSpaces(XrSession session, const XrSpacesLocateInfo *info,
                        XrSpaceLocations *locations);
#endif
extern const char *const xrt_roles[XRT_ROLES];

/* ---- replay (npz.c) ------------------------------------------------------------------- */
/* Arrays converted to double (bools to 0/1); NULL where a key is absent. Poses are 7
 * doubles [px py pz qx qy qz qw] per sample, joints 26 such poses per sample. */
typedef struct {
    int n;
    double duration; /* (t[-1] - t[0]) * n / (n - 1); playback loops over it */
    double *t, *head, *grip[2], *valid[2], *aim[2], *trigger[2], *squeeze[2];
    double *joints[2], *hand_valid[2], *tracker[XRT_ROLES], *tracker_valid[XRT_ROLES];
    void *storage; /* the loaded arrays, owned */
} Replay;
int replay_load(const char *path, Replay *out, char *err, size_t errlen);
void replay_free(Replay *r);
int replay_index(const Replay *r, XrTime time); /* sample held at `time`, -1 without replay */

/* ---- objects -------------------------------------------------------------------------- */
typedef struct {
    float x, y; /* float/boolean value in x; vector2f in x, y */
    int active, changed;
    XrTime last_change;
} ActionState;

typedef struct {
    uint64_t handle;
    char name[XR_MAX_ACTION_SET_NAME_SIZE], localized[XR_MAX_LOCALIZED_ACTION_SET_NAME_SIZE];
    int attached;
} ActionSet;

typedef struct {
    uint64_t handle, set;
    XrActionType type;
    char name[XR_MAX_ACTION_NAME_SIZE], localized[XR_MAX_LOCALIZED_ACTION_NAME_SIZE];
    uint32_t n_sub;
    XrPath sub[XRT_SUB_MAX];
    ActionState state[XRT_SUB_MAX + 1]; /* [0]: no subaction path, [i]: sub[i - 1] */
} Action;

typedef struct {
    XrPath profile, binding;
    uint64_t action;
} Binding;

typedef struct {
    uint64_t handle, action; /* action == 0: a reference space */
    XrReferenceSpaceType ref;
    XrPath sub;
    XrPosef offset;
} Space;

typedef struct {
    uint64_t handle;
    uint32_t width, height, layers;
    GLenum target;
    GLuint tex[XRT_IMAGES];
    uint32_t next, acquired, waited; /* FIFO: next to acquire, counts held / waited */
    int released;                    /* an image was released (the swapchain has content) */
    uint32_t last_released;
} Swapchain;

typedef struct {
    uint64_t handle;
    int hand; /* 0 left, 1 right */
} HandTracker;

typedef struct {
    PFNGLGENTEXTURESPROC GenTextures;
    PFNGLDELETETEXTURESPROC DeleteTextures;
    PFNGLBINDTEXTUREPROC BindTexture;
    PFNGLTEXSTORAGE2DPROC TexStorage2D;
    PFNGLTEXSTORAGE3DPROC TexStorage3D;
    PFNGLCOPYIMAGESUBDATAPROC CopyImageSubData;
    PFNGLGETTEXIMAGEPROC GetTexImage;
    PFNGLGETINTEGERVPROC GetIntegerv;
} GlFns;

enum { MODE_HEADLESS, MODE_EGL, MODE_GLX };

typedef struct {
    uint64_t handle; /* 0: no session */
    int mode;
    GlFns gl;
    XrSessionState state, target; /* last state announced; steady state to move towards */
    int running, exiting, loss_pending, lost, attached; /* attached: action sets */
    int64_t pending;   /* frame waited on but not begun, -1 if none */
    int64_t begun;     /* frame begun but not ended, -1 if none */
    GLuint kept[2];    /* the last submitted image of each eye (GL modes) */
    int kept_w[2], kept_h[2];
} Session;

typedef struct {
    int64_t frame, predicted_ns, display_ns;
    double left[7], right[7]; /* submitted view poses in stage space, NaN if no layer */
    uint64_t space;           /* the projection layer's space */
} FrameRecord;

typedef struct {
    int64_t frame; /* applied at the xrWaitFrame of this frame index */
    char text[256];
} Directive;

typedef struct {
    char path[XR_MAX_PATH_LENGTH];
    float value;
    XrTime time;
} Input;

/* ---- the runtime state ---------------------------------------------------------------- */
/* A "run" (one harness context, reset by vrgmi_xrt_reset) may see several instances, as an
 * application reconnects after a loss: the frame count, and with it XrTime, the script's
 * progress, its inputs and profile, the frame log and kept images, and a vanish belong to
 * the run; everything else to the instance. */
typedef struct {
    /* configuration, read from the environment by each xrCreateInstance; the replay stays
     * loaded after xrDestroyInstance (head_pose_at after the run) until the next instance
     * or run */
    double rate;
    uint32_t view_w, view_h;
    int realtime;
    Replay replay;

    /* the run */
    int configured, vanished; /* configured: the run's first instance was created */
    int64_t waited;           /* xrWaitFrame calls = index of the next frame */
    double clock_epoch;       /* CLOCK_MONOTONIC seconds at XRT_START_NS */
    char profile[XR_MAX_PATH_LENGTH]; /* the controllers' interaction profile */

    uint64_t instance, next_handle;
    unsigned enabled;
    int instance_lost, got_gl_requirements;
    XrTime loss_time; /* instance lost from this frame time on (0: never) */

    char *paths[MAX_PATHS];
    uint32_t n_paths;
    XrEventDataBuffer events[MAX_EVENTS];
    uint32_t ev_head, ev_count, ev_lost;

    ActionSet sets[MAX_SETS];
    Action actions[MAX_ACTIONS];
    Binding bindings[MAX_BINDINGS];
    uint32_t n_bindings;
    Space spaces[MAX_SPACES];
    Swapchain swapchains[MAX_SWAPCHAINS];
    HandTracker hand_trackers[MAX_HAND_TRACKERS];
    Session session;
    XrPath hand_profile; /* the profile the controllers are, changed by `profile` */

    Directive directives[MAX_DIRECTIVES];
    uint32_t n_directives, applied; /* sorted by frame; [0, applied) are done */
    Input inputs[MAX_INPUTS];
    uint32_t n_inputs;

    FrameRecord *log;
    size_t n_log, cap_log;
    uint8_t *snapshot[2]; /* eye images read back when the GL session ended */
    int snap_w[2], snap_h[2];
    char error[512];
} Runtime;
extern Runtime rt;

/* ---- runtime.c ------------------------------------------------------------------------ */
void xrt_count(int *slot, const char *fn);
XrVersion max_api_version(void); /* the highest API version instances may ask for */
/* Counts the call and fails every call once the runtime has vanished. */
#define ENTER()                                                                          \
    do {                                                                                 \
        static int slot_ = -1;                                                           \
        xrt_count(&slot_, __func__);                                                     \
        if (rt.vanished) return XR_ERROR_RUNTIME_FAILURE;                                \
    } while (0)
/* Counted, and working even once the runtime vanished or the instance was lost: destroy
 * functions (an application must be able to clean up) and xrGetInstanceProcAddr (the
 * loader looks xrDestroyInstance up again to destroy the instance). */
#define ENTER_ALWAYS()                                                                  \
    do {                                                                                 \
        static int slot_ = -1;                                                           \
        xrt_count(&slot_, __func__);                                                     \
    } while (0)
#define CHECK(expr)                                                                      \
    do {                                                                                 \
        XrResult r_ = (expr);                                                            \
        if (XR_FAILED(r_)) return r_;                                                    \
    } while (0)

XrResult check_instance(XrInstance instance);
XrResult check_session(XrSession session); /* valid, instance alive, session not lost */
XrResult session_ok(XrResult ok);          /* XR_SESSION_LOSS_PENDING while pending */
uint64_t new_handle(void);
void *find_object(void *table, size_t stride, size_t count, uint64_t handle);
#define FIND(table, h) ((__typeof__(&(table)[0]))find_object((table), sizeof((table)[0]),   \
                        sizeof(table) / sizeof((table)[0]), (uint64_t)(h)))
#define FREE_SLOT(table) FIND(table, 0)
XrResult two_call(uint32_t capacity, uint32_t *count_out, uint32_t count);
XrResult fill_string(char *dst, uint32_t capacity, uint32_t *count_out, const char *src);
XrPath path_intern(const char *s); /* XR_NULL_PATH if the table is full */
const char *path_string(XrPath p);
void push_event(const void *event, size_t size);
void set_state(XrSessionState state);
XrTime frame_time(int64_t frame);
XrTime now_time(void); /* predicted time of the latest frame waited on (or frame 0) */
void xrt_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *struct_in_chain(const void *chain, XrStructureType type);
void wait_until(XrTime display_time); /* realtime pacing */

/* ---- session.c ------------------------------------------------------------------------ */
int sample_pose(const double *poses, const double *valid, int i, XrPosef *out); /* 1 valid */
int locate_in_stage(const Space *s, XrTime time, XrPosef *out); /* 1 if pose valid */
int device_pose(const char *binding, XrTime time, XrPosef *out);   /* 1 if tracked */
int head_pose(XrTime time, XrPosef *out);
void session_reset(void);
void stop_session(void); /* moves a running session down to STOPPING */

/* ---- input.c -------------------------------------------------------------------------- */
int directive_apply(const char *text, int64_t frame, int dry_run); /* 0 ok, -1 bad syntax */
int script_load(const char *path);
void run_directives(int64_t frame);
void queue_tracker_events(void);
void input_reset(void);
int action_pose(uint64_t action, XrPath sub, XrTime time, XrPosef *out); /* 1 if tracked */

/* ---- pose math (poses as XrPosef) ----------------------------------------------------- */
static inline XrQuaternionf q_mul(XrQuaternionf a, XrQuaternionf b) {
    return (XrQuaternionf){a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
                           a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x,
                           a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w,
                           a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z};
}
static inline XrVector3f q_rot(XrQuaternionf q, XrVector3f v) {
    /* v + 2 w (u x v) + 2 u x (u x v), u = q.xyz */
    XrVector3f t = {2 * (q.y * v.z - q.z * v.y), 2 * (q.z * v.x - q.x * v.z),
                    2 * (q.x * v.y - q.y * v.x)};
    return (XrVector3f){v.x + q.w * t.x + q.y * t.z - q.z * t.y,
                        v.y + q.w * t.y + q.z * t.x - q.x * t.z,
                        v.z + q.w * t.z + q.x * t.y - q.y * t.x};
}
static inline XrPosef pose_mul(XrPosef a, XrPosef b) { /* a * b: b expressed in a's frame */
    XrVector3f p = q_rot(a.orientation, b.position);
    return (XrPosef){q_mul(a.orientation, b.orientation),
                     {a.position.x + p.x, a.position.y + p.y, a.position.z + p.z}};
}
static inline XrPosef pose_inv(XrPosef a) {
    XrQuaternionf c = {-a.orientation.x, -a.orientation.y, -a.orientation.z, a.orientation.w};
    XrVector3f p = q_rot(c, a.position);
    return (XrPosef){c, {-p.x, -p.y, -p.z}};
}
static const XrPosef POSE_IDENTITY = {{0, 0, 0, 1}, {0, 0, 0}};

#endif

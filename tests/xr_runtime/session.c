/* session.c - the session state machine, frame loop, spaces, views and OpenGL swapchains,
 * and the image test hooks. */
#include "xrt.h"

#include <dlfcn.h>
#include <stdlib.h>

#define VALID_TRACKED                                                                   \
    (XR_SPACE_LOCATION_ORIENTATION_VALID_BIT | XR_SPACE_LOCATION_POSITION_VALID_BIT |   \
     XR_SPACE_LOCATION_ORIENTATION_TRACKED_BIT | XR_SPACE_LOCATION_POSITION_TRACKED_BIT)

/* ---- poses from the replay --------------------------------------------------------------- */
/* Sample `i` of a pose array as an XrPosef; 0 where flagged invalid or NaN. */
int sample_pose(const double *poses, const double *valid, int i, XrPosef *out) {
    *out = POSE_IDENTITY;
    if (!poses || (valid && !valid[i])) return 0;
    const double *v = poses + 7 * (size_t)i;
    double norm = sqrt(v[3] * v[3] + v[4] * v[4] + v[5] * v[5] + v[6] * v[6]);
    for (int k = 0; k < 7; k++)
        if (isnan(v[k])) return 0;
    if (!(norm > 0)) return 0;
    *out = (XrPosef){{(float)(v[3] / norm), (float)(v[4] / norm), (float)(v[5] / norm),
                      (float)(v[6] / norm)}, {(float)v[0], (float)v[1], (float)v[2]}};
    return 1;
}

int head_pose(XrTime time, XrPosef *out) {
    int i = replay_index(&rt.replay, time);
    if (i < 0) { /* no replay: a still, seated user */
        *out = (XrPosef){{0, 0, 0, 1}, {0, 1.2f, 0}};
        return 1;
    }
    return sample_pose(rt.replay.head, NULL, i, out);
}

/* The pose an input binding path gives: a hand's grip or aim, or a tracker's grip. */
int device_pose(const char *binding, XrTime time, XrPosef *out) {
    int i = replay_index(&rt.replay, time);
    *out = POSE_IDENTITY;
    if (!strncmp(binding, "/user/hand/", 11)) {
        int side = !strncmp(binding + 11, "right/", 6);
        const char *c = strstr(binding, "/input/");
        if (!c) return 0;
        c += 7;
        int grip = !strcmp(c, "grip") || !strcmp(c, "grip/pose") ||
                   !strcmp(c, "grip_surface") || !strcmp(c, "grip_surface/pose");
        int aim = !strcmp(c, "aim") || !strcmp(c, "aim/pose");
        if (!grip && !aim) return 0;
        if (i < 0) { /* no replay: controllers at rest in front of the user */
            *out = (XrPosef){{0, 0, 0, 1}, {side ? 0.2f : -0.2f, 0.9f, -0.3f}};
            return 1;
        }
        const double *poses = aim && rt.replay.aim[side] ? rt.replay.aim[side]
                                                          : rt.replay.grip[side];
        return sample_pose(poses, rt.replay.valid[side], i, out);
    }
    static const char prefix[] = "/user/vive_tracker_htcx/role/";
    if (i < 0 || strncmp(binding, prefix, sizeof prefix - 1)) return 0;
    for (int r = 0; r < XRT_ROLES; r++) {
        size_t n = strlen(xrt_roles[r]);
        const char *c = binding + sizeof prefix - 1;
        if (!strncmp(c, xrt_roles[r], n) &&
            (!strcmp(c + n, "/input/grip/pose") || !strcmp(c + n, "/input/grip")))
            return sample_pose(rt.replay.tracker[r], rt.replay.tracker_valid[r], i, out);
    }
    return 0;
}

/* ---- spaces --------------------------------------------------------------------------- */
/* LOCAL (and on 1.1 LOCAL_FLOOR) is the same as STAGE here: the origin on the floor, no
 * recentering. */
int locate_in_stage(const Space *s, XrTime time, XrPosef *out) {
    XrPosef base = POSE_IDENTITY;
    int valid = 1;
    if (s->action) valid = action_pose(s->action, s->sub, time, &base);
    else if (s->ref == XR_REFERENCE_SPACE_TYPE_VIEW) valid = head_pose(time, &base);
    *out = pose_mul(base, s->offset);
    return valid;
}

static int pose_valid(const XrPosef *p) {
    const XrQuaternionf *q = &p->orientation;
    return fabsf(q->x * q->x + q->y * q->y + q->z * q->z + q->w * q->w - 1.0f) < 1e-4f &&
           isfinite(p->position.x) && isfinite(p->position.y) && isfinite(p->position.z);
}

static XrResult new_space(uint64_t action, XrReferenceSpaceType ref, XrPath sub,
                          XrPosef offset, XrSpace *out) {
    if (!pose_valid(&offset)) return XR_ERROR_POSE_INVALID;
    Space *s = FREE_SLOT(rt.spaces);
    if (!s) return XR_ERROR_LIMIT_REACHED;
    *s = (Space){new_handle(), action, ref, sub, offset};
    *out = (XrSpace)s->handle;
    return session_ok(XR_SUCCESS);
}

/* VIEW, LOCAL, STAGE, and LOCAL_FLOOR on a 1.1 instance (core there). */
static int reference_space_known(XrReferenceSpaceType t) {
    return t == XR_REFERENCE_SPACE_TYPE_VIEW || t == XR_REFERENCE_SPACE_TYPE_LOCAL ||
           t == XR_REFERENCE_SPACE_TYPE_STAGE ||
           (t == XR_REFERENCE_SPACE_TYPE_LOCAL_FLOOR && (rt.enabled & API_1_1));
}

XrResult xrEnumerateReferenceSpaces(XrSession session, uint32_t capacity,
                                    uint32_t *count_out, XrReferenceSpaceType *spaces) {
    ENTER();
    CHECK(check_session(session));
    static const XrReferenceSpaceType all[] = {
        XR_REFERENCE_SPACE_TYPE_VIEW, XR_REFERENCE_SPACE_TYPE_LOCAL,
        XR_REFERENCE_SPACE_TYPE_STAGE, XR_REFERENCE_SPACE_TYPE_LOCAL_FLOOR};
    uint32_t n = (rt.enabled & API_1_1) ? 4 : 3;
    CHECK(two_call(capacity, count_out, n));
    for (uint32_t i = 0; i < n && capacity; i++) spaces[i] = all[i];
    return session_ok(XR_SUCCESS);
}

XrResult xrCreateReferenceSpace(XrSession session, const XrReferenceSpaceCreateInfo *info,
                                XrSpace *space) {
    ENTER();
    CHECK(check_session(session));
    XrReferenceSpaceType t = info->referenceSpaceType;
    if (!reference_space_known(t)) return XR_ERROR_REFERENCE_SPACE_UNSUPPORTED;
    return new_space(0, t, XR_NULL_PATH, info->poseInReferenceSpace, space);
}

XrResult xrGetReferenceSpaceBoundsRect(XrSession session, XrReferenceSpaceType type,
                                       XrExtent2Df *bounds) {
    ENTER();
    CHECK(check_session(session));
    if (!reference_space_known(type)) return XR_ERROR_REFERENCE_SPACE_UNSUPPORTED;
    int stage = type == XR_REFERENCE_SPACE_TYPE_STAGE; /* a 2 m x 2 m play area */
    *bounds = (XrExtent2Df){stage ? 2.0f : 0.0f, stage ? 2.0f : 0.0f};
    return session_ok(stage ? XR_SUCCESS : XR_SPACE_BOUNDS_UNAVAILABLE);
}

XrResult xrCreateActionSpace(XrSession session, const XrActionSpaceCreateInfo *info,
                             XrSpace *space) {
    ENTER();
    CHECK(check_session(session));
    Action *a = FIND(rt.actions, info->action);
    if (!a || !info->action) return XR_ERROR_HANDLE_INVALID;
    if (a->type != XR_ACTION_TYPE_POSE_INPUT) return XR_ERROR_ACTION_TYPE_MISMATCH;
    int declared = info->subactionPath == XR_NULL_PATH;
    for (uint32_t i = 0; i < a->n_sub; i++) declared |= a->sub[i] == info->subactionPath;
    if (!declared) return XR_ERROR_PATH_UNSUPPORTED;
    return new_space(a->handle, 0, info->subactionPath, info->poseInActionSpace, space);
}

static Space *find_space(XrSpace h) { return h ? FIND(rt.spaces, h) : NULL; }

XrResult xrLocateSpace(XrSpace space, XrSpace base, XrTime time, XrSpaceLocation *location) {
    ENTER();
    Space *s = find_space(space), *b = find_space(base);
    if (!s || !b) return XR_ERROR_HANDLE_INVALID;
    CHECK(check_session((XrSession)rt.session.handle));
    if (time <= 0) return XR_ERROR_TIME_INVALID;
    XrPosef ps, pb;
    int valid = locate_in_stage(s, time, &ps) & locate_in_stage(b, time, &pb);
    location->locationFlags = valid ? VALID_TRACKED : 0;
    location->pose = valid ? pose_mul(pose_inv(pb), ps) : POSE_IDENTITY;
    XrSpaceVelocity *vel = struct_in_chain(location->next, XR_TYPE_SPACE_VELOCITY);
    if (vel) vel->velocityFlags = 0; /* velocities are not reported */
    return session_ok(XR_SUCCESS);
}

/* OpenXR 1.1: several spaces at once, each as xrLocateSpace would. */
XrResult xrLocateSpaces(XrSession session, const XrSpacesLocateInfo *info,
                        XrSpaceLocations *locations) {
    ENTER();
    CHECK(check_session(session));
    Space *b = find_space(info->baseSpace);
    if (!b) return XR_ERROR_HANDLE_INVALID;
    if (info->time <= 0) return XR_ERROR_TIME_INVALID;
    if (!info->spaceCount || locations->locationCount != info->spaceCount)
        return XR_ERROR_VALIDATION_FAILURE;
    XrPosef pb;
    int base_valid = locate_in_stage(b, info->time, &pb);
    for (uint32_t i = 0; i < info->spaceCount; i++) {
        Space *s = find_space(info->spaces[i]);
        if (!s) return XR_ERROR_HANDLE_INVALID;
        XrPosef ps;
        int valid = locate_in_stage(s, info->time, &ps) & base_valid;
        locations->locations[i].locationFlags = valid ? VALID_TRACKED : 0;
        locations->locations[i].pose = valid ? pose_mul(pose_inv(pb), ps) : POSE_IDENTITY;
    }
    return session_ok(XR_SUCCESS);
}

XrResult xrDestroySpace(XrSpace space) {
    ENTER_ALWAYS();
    Space *s = find_space(space);
    if (!s) return XR_ERROR_HANDLE_INVALID;
    memset(s, 0, sizeof *s);
    return XR_SUCCESS;
}

/* ---- views ------------------------------------------------------------------------------ */
XrResult xrLocateViews(XrSession session, const XrViewLocateInfo *info, XrViewState *state,
                       uint32_t capacity, uint32_t *count_out, XrView *views) {
    ENTER();
    CHECK(check_session(session));
    if (info->viewConfigurationType != XR_VIEW_CONFIGURATION_TYPE_PRIMARY_STEREO)
        return XR_ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED;
    Space *base = find_space(info->space);
    if (!base) return XR_ERROR_HANDLE_INVALID;
    if (info->displayTime <= 0) return XR_ERROR_TIME_INVALID;
    CHECK(two_call(capacity, count_out, 2));
    XrPosef head, pb;
    int valid = head_pose(info->displayTime, &head) & locate_in_stage(base, info->displayTime,
                                                                      &pb);
    state->viewStateFlags = valid ? VALID_TRACKED : 0;
    for (uint32_t e = 0; e < 2 && capacity; e++) {
        /* eyes +-IPD/2 along the head's x; an asymmetric, wider-outwards FOV per eye */
        XrPosef eye = {{0, 0, 0, 1}, {e ? XRT_IPD / 2 : -XRT_IPD / 2, 0, 0}};
        views[e].pose = valid ? pose_mul(pose_inv(pb), pose_mul(head, eye)) : POSE_IDENTITY;
        views[e].fov = e ? (XrFovf){-0.75f, 0.90f, 0.85f, -0.95f}
                         : (XrFovf){-0.90f, 0.75f, 0.85f, -0.95f};
    }
    return session_ok(XR_SUCCESS);
}

/* ---- session ------------------------------------------------------------------------------ */
static int load_gl(PFN_xrVoidFunction (*get)(const char *)) {
    GlFns *g = &rt.session.gl;
#define LOAD(name) (g->name = (__typeof__(g->name))get("gl" #name)) != NULL
    return LOAD(GenTextures) && LOAD(DeleteTextures) && LOAD(BindTexture) &&
           LOAD(TexStorage2D) && LOAD(TexStorage3D) && LOAD(CopyImageSubData) &&
           LOAD(GetTexImage) && LOAD(GetIntegerv);
#undef LOAD
}

static PFNEGLGETPROCADDRESSPROC egl_get;
static PFN_xrVoidFunction egl_proc(const char *name) { return egl_get(name); }
static PFN_xrVoidFunction (*glx_get)(const GLubyte *);
static PFN_xrVoidFunction glx_proc(const char *name) {
    return glx_get((const GLubyte *)name);
}

XrResult xrCreateSession(XrInstance instance, const XrSessionCreateInfo *info,
                         XrSession *session) {
    ENTER();
    CHECK(check_instance(instance));
    if (info->systemId != 1) return XR_ERROR_SYSTEM_INVALID;
    if (rt.session.handle) return XR_ERROR_LIMIT_REACHED;
    const XrGraphicsBindingEGLMNDX *egl =
        rt.enabled & EXT_EGL ? struct_in_chain(info->next, XR_TYPE_GRAPHICS_BINDING_EGL_MNDX)
                             : NULL;
    int glx = rt.enabled & EXT_OPENGL &&
              struct_in_chain(info->next, XR_TYPE_GRAPHICS_BINDING_OPENGL_XLIB_KHR);
    Session *s = &rt.session;
    memset(s, 0, sizeof *s);
    if (egl || glx) {
        if (!rt.got_gl_requirements) return XR_ERROR_GRAPHICS_REQUIREMENTS_CALL_MISSING;
        if (egl) {
            egl_get = egl->getProcAddress;
        } else {
            void *lib = dlopen("libGL.so.1", RTLD_LAZY); /* loaded already by a GLX app */
            glx_get = lib ? (PFN_xrVoidFunction(*)(const GLubyte *))dlsym(
                                lib, "glXGetProcAddressARB")
                          : NULL;
        }
        if (egl ? !egl_get || !load_gl(egl_proc) : !glx_get || !load_gl(glx_proc))
            return XR_ERROR_GRAPHICS_DEVICE_INVALID;
        s->mode = egl ? MODE_EGL : MODE_GLX;
    } else if (rt.enabled & EXT_HEADLESS) {
        s->mode = MODE_HEADLESS;
    } else {
        return XR_ERROR_GRAPHICS_DEVICE_INVALID;
    }
    s->handle = new_handle();
    s->pending = s->begun = -1;
    s->target = XR_SESSION_STATE_FOCUSED;
    set_state(XR_SESSION_STATE_IDLE);
    set_state(XR_SESSION_STATE_READY);
    queue_tracker_events();
    *session = (XrSession)s->handle;
    return XR_SUCCESS;
}

static void delete_swapchain(Swapchain *sc) {
    rt.session.gl.DeleteTextures(XRT_IMAGES, sc->tex);
    memset(sc, 0, sizeof *sc);
}

/* Destroys the session and its children. The kept images are read back first, so the
 * hooks still have them once the application's GL context is gone. */
void session_reset(void) {
    Session *s = &rt.session;
    if (!s->handle) return;
    for (int e = 0; e < 2 && s->mode != MODE_HEADLESS; e++) {
        if (!s->kept[e]) continue;
        rt.snapshot[e] = realloc(rt.snapshot[e], (size_t)s->kept_w[e] * s->kept_h[e] * 4);
        rt.snap_w[e] = s->kept_w[e];
        rt.snap_h[e] = s->kept_h[e];
        memset(rt.snapshot[e], 0, (size_t)s->kept_w[e] * s->kept_h[e] * 4);
        s->gl.BindTexture(GL_TEXTURE_2D, s->kept[e]);
        s->gl.GetTexImage(GL_TEXTURE_2D, 0, GL_RGBA, GL_UNSIGNED_BYTE, rt.snapshot[e]);
        s->gl.BindTexture(GL_TEXTURE_2D, 0);
        s->gl.DeleteTextures(1, &s->kept[e]);
    }
    for (int i = 0; i < MAX_SWAPCHAINS; i++)
        if (rt.swapchains[i].handle) delete_swapchain(&rt.swapchains[i]);
    memset(rt.spaces, 0, sizeof rt.spaces);
    memset(rt.hand_trackers, 0, sizeof rt.hand_trackers);
    for (int i = 0; i < MAX_SETS; i++) rt.sets[i].attached = 0;
    memset(s, 0, sizeof *s);
}

XrResult xrDestroySession(XrSession session) {
    ENTER_ALWAYS();
    if ((uint64_t)session != rt.session.handle || !rt.session.handle)
        return XR_ERROR_HANDLE_INVALID;
    session_reset();
    return XR_SUCCESS;
}

XrResult xrBeginSession(XrSession session, const XrSessionBeginInfo *info) {
    ENTER();
    CHECK(check_session(session));
    Session *s = &rt.session;
    if (s->running) return XR_ERROR_SESSION_RUNNING;
    if (s->state != XR_SESSION_STATE_READY) return XR_ERROR_SESSION_NOT_READY;
    if (s->mode != MODE_HEADLESS &&
        info->primaryViewConfigurationType != XR_VIEW_CONFIGURATION_TYPE_PRIMARY_STEREO)
        return XR_ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED;
    s->running = 1;
    return session_ok(XR_SUCCESS);
}

void stop_session(void) {
    Session *s = &rt.session;
    if (!s->running || s->exiting || s->loss_pending) return;
    s->exiting = 1;
    if (s->state == XR_SESSION_STATE_READY) set_state(XR_SESSION_STATE_SYNCHRONIZED);
    while (s->state > XR_SESSION_STATE_SYNCHRONIZED && s->state <= XR_SESSION_STATE_FOCUSED)
        set_state(s->state - 1);
    set_state(XR_SESSION_STATE_STOPPING);
}

XrResult xrRequestExitSession(XrSession session) {
    ENTER();
    CHECK(check_session(session));
    if (!rt.session.running) return XR_ERROR_SESSION_NOT_RUNNING;
    stop_session();
    return session_ok(XR_SUCCESS);
}

XrResult xrEndSession(XrSession session) {
    ENTER();
    CHECK(check_session(session));
    Session *s = &rt.session;
    if (!s->running) return XR_ERROR_SESSION_NOT_RUNNING;
    if (s->loss_pending) { /* ending a session about to be lost is allowed */
        s->running = 0;
        return XR_SESSION_LOSS_PENDING;
    }
    if (s->state != XR_SESSION_STATE_STOPPING) return XR_ERROR_SESSION_NOT_STOPPING;
    s->running = 0;
    set_state(XR_SESSION_STATE_IDLE);
    set_state(XR_SESSION_STATE_EXITING);
    return XR_SUCCESS;
}

/* ---- frames ------------------------------------------------------------------------------- */
/* One step per frame from READY through SYNCHRONIZED and VISIBLE towards the target. */
static void step_state(void) {
    Session *s = &rt.session;
    XrSessionState st = s->state;
    if (s->exiting || s->loss_pending || st < XR_SESSION_STATE_READY ||
        st > XR_SESSION_STATE_FOCUSED)
        return;
    if (st == XR_SESSION_STATE_READY) set_state(XR_SESSION_STATE_SYNCHRONIZED);
    else if (st < s->target) set_state(st + 1);
    else if (st > s->target) set_state(st - 1);
}

XrResult xrWaitFrame(XrSession session, const XrFrameWaitInfo *info, XrFrameState *state) {
    ENTER();
    (void)info;
    CHECK(check_session(session));
    Session *s = &rt.session;
    if (!s->running) return XR_ERROR_SESSION_NOT_RUNNING;
    if (s->loss_pending) { /* lost one frame after LOSS_PENDING */
        s->lost = 1;
        return XR_ERROR_SESSION_LOST;
    }
    int64_t frame = rt.waited++;
    if (rt.loss_time && frame_time(frame) >= rt.loss_time) {
        rt.instance_lost = 1;
        return XR_ERROR_INSTANCE_LOST;
    }
    run_directives(frame);
    if (rt.vanished) return XR_ERROR_RUNTIME_FAILURE;
    step_state();
    if (rt.realtime) wait_until(frame_time(frame));
    s->pending = frame;
    state->predictedDisplayTime = frame_time(frame);
    state->predictedDisplayPeriod = (XrDuration)llround(1e9 / rt.rate);
    state->shouldRender = s->state == XR_SESSION_STATE_VISIBLE ||
                          s->state == XR_SESSION_STATE_FOCUSED;
    return session_ok(XR_SUCCESS);
}

XrResult xrBeginFrame(XrSession session, const XrFrameBeginInfo *info) {
    ENTER();
    (void)info;
    CHECK(check_session(session));
    Session *s = &rt.session;
    if (!s->running) return XR_ERROR_SESSION_NOT_RUNNING;
    if (s->pending < 0) return XR_ERROR_CALL_ORDER_INVALID;
    XrResult r = s->begun >= 0 ? XR_FRAME_DISCARDED : XR_SUCCESS;
    s->begun = s->pending;
    s->pending = -1;
    return session_ok(r);
}

/* The swapchain sub-image of a layer, checked. */
static XrResult check_subimage(const XrSwapchainSubImage *sub, Swapchain **out) {
    Swapchain *sc = sub->swapchain ? FIND(rt.swapchains, sub->swapchain) : NULL;
    if (!sc) return XR_ERROR_HANDLE_INVALID;
    if (!sc->released) return XR_ERROR_LAYER_INVALID; /* nothing released to show */
    if (sub->imageArrayIndex >= sc->layers) return XR_ERROR_VALIDATION_FAILURE;
    const XrRect2Di *r = &sub->imageRect;
    if (r->offset.x < 0 || r->offset.y < 0 || r->extent.width <= 0 || r->extent.height <= 0 ||
        (uint32_t)(r->offset.x + r->extent.width) > sc->width ||
        (uint32_t)(r->offset.y + r->extent.height) > sc->height)
        return XR_ERROR_SWAPCHAIN_RECT_INVALID;
    *out = sc;
    return XR_SUCCESS;
}

/* Copies a submitted view into the eye's kept texture (made or resized on demand). */
static void keep_image(int eye, const XrSwapchainSubImage *sub, const Swapchain *sc) {
    Session *s = &rt.session;
    int w = sub->imageRect.extent.width, h = sub->imageRect.extent.height;
    if (!s->kept[eye] || s->kept_w[eye] != w || s->kept_h[eye] != h) {
        GLint bound;
        s->gl.GetIntegerv(GL_TEXTURE_BINDING_2D, &bound);
        if (s->kept[eye]) s->gl.DeleteTextures(1, &s->kept[eye]);
        s->gl.GenTextures(1, &s->kept[eye]);
        s->gl.BindTexture(GL_TEXTURE_2D, s->kept[eye]);
        s->gl.TexStorage2D(GL_TEXTURE_2D, 1, GL_RGBA8, w, h);
        s->gl.BindTexture(GL_TEXTURE_2D, (GLuint)bound);
        s->kept_w[eye] = w;
        s->kept_h[eye] = h;
    }
    s->gl.CopyImageSubData(sc->tex[sc->last_released], sc->target, 0, sub->imageRect.offset.x,
                           sub->imageRect.offset.y, (GLint)sub->imageArrayIndex, s->kept[eye],
                           GL_TEXTURE_2D, 0, 0, 0, 0, w, h, 1);
}

static void store_pose(double out[7], XrPosef p) {
    double v[7] = {p.position.x,    p.position.y,    p.position.z,   p.orientation.x,
                   p.orientation.y, p.orientation.z, p.orientation.w};
    memcpy(out, v, sizeof v);
}

XrResult xrEndFrame(XrSession session, const XrFrameEndInfo *info) {
    ENTER();
    CHECK(check_session(session));
    Session *s = &rt.session;
    if (!s->running) return XR_ERROR_SESSION_NOT_RUNNING;
    if (s->begun < 0) return XR_ERROR_CALL_ORDER_INVALID;
    if (info->displayTime <= 0) return XR_ERROR_TIME_INVALID;
    if (info->environmentBlendMode != XR_ENVIRONMENT_BLEND_MODE_OPAQUE)
        return XR_ERROR_ENVIRONMENT_BLEND_MODE_UNSUPPORTED;
    if (info->layerCount > MAX_LAYERS) return XR_ERROR_LAYER_LIMIT_EXCEEDED;
    const XrCompositionLayerProjection *proj = NULL;
    Swapchain *eye_sc[2] = {NULL, NULL};
    for (uint32_t i = 0; i < info->layerCount; i++) {
        const XrCompositionLayerBaseHeader *l = info->layers[i];
        if (!l) return XR_ERROR_LAYER_INVALID;
        if (!find_space(l->space)) return XR_ERROR_HANDLE_INVALID;
        Swapchain *sc;
        if (l->type == XR_TYPE_COMPOSITION_LAYER_QUAD) {
            const XrCompositionLayerQuad *q = (const void *)l;
            CHECK(check_subimage(&q->subImage, &sc));
            if (!pose_valid(&q->pose)) return XR_ERROR_POSE_INVALID;
            continue;
        }
        if (l->type != XR_TYPE_COMPOSITION_LAYER_PROJECTION) return XR_ERROR_LAYER_INVALID;
        const XrCompositionLayerProjection *p = (const void *)l;
        if (p->viewCount != 2) return XR_ERROR_VALIDATION_FAILURE;
        for (int e = 0; e < 2; e++) {
            CHECK(check_subimage(&p->views[e].subImage, &sc));
            if (!pose_valid(&p->views[e].pose)) return XR_ERROR_POSE_INVALID;
            if (!proj) eye_sc[e] = sc;
        }
        if (!proj) proj = p;
    }
    if (rt.n_log == rt.cap_log) {
        rt.cap_log = rt.cap_log ? 2 * rt.cap_log : 1024;
        rt.log = realloc(rt.log, rt.cap_log * sizeof *rt.log);
    }
    FrameRecord *rec = &rt.log[rt.n_log++];
    *rec = (FrameRecord){.frame = s->begun, .predicted_ns = frame_time(s->begun),
                         .display_ns = info->displayTime};
    for (int k = 0; k < 7; k++) rec->left[k] = rec->right[k] = NAN;
    if (proj) {
        rec->space = (uint64_t)proj->space;
        XrPosef base;
        if (locate_in_stage(find_space(proj->space), info->displayTime, &base)) {
            store_pose(rec->left, pose_mul(base, proj->views[0].pose));
            store_pose(rec->right, pose_mul(base, proj->views[1].pose));
        }
        for (int e = 0; e < 2 && s->mode != MODE_HEADLESS; e++)
            keep_image(e, &proj->views[e].subImage, eye_sc[e]);
    }
    s->begun = -1;
    return session_ok(XR_SUCCESS);
}

/* ---- swapchains -------------------------------------------------------------------------- */
static const int64_t formats[] = {GL_SRGB8_ALPHA8, GL_RGBA8};

XrResult xrEnumerateSwapchainFormats(XrSession session, uint32_t capacity,
                                     uint32_t *count_out, int64_t *out) {
    ENTER();
    CHECK(check_session(session));
    uint32_t n = rt.session.mode == MODE_HEADLESS ? 0 : 2;
    CHECK(two_call(capacity, count_out, n));
    for (uint32_t i = 0; i < n && capacity; i++) out[i] = formats[i];
    return session_ok(XR_SUCCESS);
}

XrResult xrCreateSwapchain(XrSession session, const XrSwapchainCreateInfo *info,
                           XrSwapchain *swapchain) {
    ENTER();
    CHECK(check_session(session));
    Session *s = &rt.session;
    if (s->mode == MODE_HEADLESS) return XR_ERROR_VALIDATION_FAILURE; /* no graphics */
    if (info->createFlags) return XR_ERROR_FEATURE_UNSUPPORTED;
    if (info->format != formats[0] && info->format != formats[1])
        return XR_ERROR_SWAPCHAIN_FORMAT_UNSUPPORTED;
    if (info->sampleCount != 1 || info->faceCount != 1 || info->mipCount < 1 ||
        info->arraySize < 1 || info->arraySize > 2 || !info->width || !info->height ||
        info->width > 4096 || info->height > 4096)
        return XR_ERROR_VALIDATION_FAILURE;
    Swapchain *sc = FREE_SLOT(rt.swapchains);
    if (!sc) return XR_ERROR_LIMIT_REACHED;
    *sc = (Swapchain){.handle = new_handle(), .width = info->width, .height = info->height,
                      .layers = info->arraySize,
                      .target = info->arraySize > 1 ? GL_TEXTURE_2D_ARRAY : GL_TEXTURE_2D};
    GLint bound;
    s->gl.GetIntegerv(sc->layers > 1 ? GL_TEXTURE_BINDING_2D_ARRAY : GL_TEXTURE_BINDING_2D,
                      &bound);
    s->gl.GenTextures(XRT_IMAGES, sc->tex);
    for (int i = 0; i < XRT_IMAGES; i++) {
        s->gl.BindTexture(sc->target, sc->tex[i]);
        if (sc->layers > 1)
            s->gl.TexStorage3D(sc->target, (GLsizei)info->mipCount, (GLenum)info->format,
                               (GLsizei)sc->width, (GLsizei)sc->height, (GLsizei)sc->layers);
        else
            s->gl.TexStorage2D(sc->target, (GLsizei)info->mipCount, (GLenum)info->format,
                               (GLsizei)sc->width, (GLsizei)sc->height);
    }
    s->gl.BindTexture(sc->target, (GLuint)bound);
    *swapchain = (XrSwapchain)sc->handle;
    return session_ok(XR_SUCCESS);
}

static XrResult find_swapchain(XrSwapchain h, Swapchain **out) {
    *out = h ? FIND(rt.swapchains, h) : NULL;
    if (!*out) return XR_ERROR_HANDLE_INVALID;
    return check_session((XrSession)rt.session.handle);
}

XrResult xrDestroySwapchain(XrSwapchain swapchain) {
    ENTER_ALWAYS();
    Swapchain *sc = swapchain ? FIND(rt.swapchains, swapchain) : NULL;
    if (!sc) return XR_ERROR_HANDLE_INVALID;
    delete_swapchain(sc);
    return XR_SUCCESS;
}

XrResult xrEnumerateSwapchainImages(XrSwapchain swapchain, uint32_t capacity,
                                    uint32_t *count_out, XrSwapchainImageBaseHeader *images) {
    ENTER();
    Swapchain *sc;
    CHECK(find_swapchain(swapchain, &sc));
    CHECK(two_call(capacity, count_out, XRT_IMAGES));
    XrSwapchainImageOpenGLKHR *gl = (XrSwapchainImageOpenGLKHR *)images;
    for (uint32_t i = 0; i < XRT_IMAGES && capacity; i++) {
        if (gl[i].type != XR_TYPE_SWAPCHAIN_IMAGE_OPENGL_KHR) return XR_ERROR_VALIDATION_FAILURE;
        gl[i].image = sc->tex[i];
    }
    return session_ok(XR_SUCCESS);
}

XrResult xrAcquireSwapchainImage(XrSwapchain swapchain,
                                 const XrSwapchainImageAcquireInfo *info, uint32_t *index) {
    ENTER();
    (void)info;
    Swapchain *sc;
    CHECK(find_swapchain(swapchain, &sc));
    if (sc->acquired == XRT_IMAGES) return XR_ERROR_CALL_ORDER_INVALID;
    *index = sc->next;
    sc->next = (sc->next + 1) % XRT_IMAGES;
    sc->acquired++;
    return session_ok(XR_SUCCESS);
}

XrResult xrWaitSwapchainImage(XrSwapchain swapchain, const XrSwapchainImageWaitInfo *info) {
    ENTER();
    (void)info; /* images are always ready: the timeout never expires */
    Swapchain *sc;
    CHECK(find_swapchain(swapchain, &sc));
    if (sc->waited == sc->acquired) return XR_ERROR_CALL_ORDER_INVALID;
    sc->waited++;
    return session_ok(XR_SUCCESS);
}

XrResult xrReleaseSwapchainImage(XrSwapchain swapchain,
                                 const XrSwapchainImageReleaseInfo *info) {
    ENTER();
    (void)info;
    Swapchain *sc;
    CHECK(find_swapchain(swapchain, &sc));
    if (!sc->waited) return XR_ERROR_CALL_ORDER_INVALID;
    sc->last_released = (sc->next + XRT_IMAGES - sc->acquired) % XRT_IMAGES; /* the oldest */
    sc->acquired--;
    sc->waited--;
    sc->released = 1;
    return session_ok(XR_SUCCESS);
}

/* ---- image hooks ------------------------------------------------------------------------ */
/* The last image submitted for `eye`: from the kept texture while the GL session lives (the
 * caller's thread must have the application's context current), else from the snapshot
 * taken when the session ended. 1 if there is one. */
XRT_EXPORT int vrgmi_xrt_image_size(int eye, int *width, int *height) {
    Session *s = &rt.session;
    if (eye < 0 || eye > 1) return 0;
    int live = s->handle && s->kept[eye];
    *width = live ? s->kept_w[eye] : rt.snap_w[eye];
    *height = live ? s->kept_h[eye] : rt.snap_h[eye];
    return live || rt.snapshot[eye];
}

/* Copies the image (RGBA8, rows bottom-up as GL stores them) into `out`; 1 if done. */
XRT_EXPORT int vrgmi_xrt_read_image(int eye, uint8_t *out, size_t size) {
    int w, h;
    if (!vrgmi_xrt_image_size(eye, &w, &h) || size < (size_t)w * h * 4) return 0;
    Session *s = &rt.session;
    if (!s->handle || !s->kept[eye]) {
        memcpy(out, rt.snapshot[eye], (size_t)w * h * 4);
        return 1;
    }
    GLint bound;
    s->gl.GetIntegerv(GL_TEXTURE_BINDING_2D, &bound);
    s->gl.BindTexture(GL_TEXTURE_2D, s->kept[eye]);
    s->gl.GetTexImage(GL_TEXTURE_2D, 0, GL_RGBA, GL_UNSIGNED_BYTE, out);
    s->gl.BindTexture(GL_TEXTURE_2D, (GLuint)bound);
    return 1;
}

using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>PUT/DELETE /v1/sessions/{id}/pin: a pin is the calling user's, shown as <c>is_pinned</c> on get and list.</summary>
[Collection(AppCollection.Name)]
public sealed class PinTests(AppFixture app)
{
    [Fact]
    public async Task pins_are_per_user_idempotent_listed_and_go_with_the_session()
    {
        var orgId = (string)(await app.Api.PostAsync("/v1/orgs", new { name = Names.Unique("pins") })).Object["id"]!;
        async Task<ApiClient> Member(string name)
        {
            var member = await app.Api.PostAsync($"/v1/orgs/{orgId}/members", new { name, role = "admin" });
            member.Status.ShouldBe(HttpStatusCode.Created, member.Text);
            return new ApiClient(app.Host.Server.CreateClient().As((string)member.Object["token"]!["token"]!, orgId));
        }

        var alice = await Member("alice");
        var bob = await Member("bob");
        var pinned = (string)(await alice.CreateSessionAsync(new { title = "pinned" }))["id"]!;
        var other = (string)(await alice.CreateSessionAsync(new { title = "other" }))["id"]!;

        (await alice.PutAsync($"/v1/sessions/{pinned}/pin", null)).Status.ShouldBe(HttpStatusCode.NoContent);
        (await alice.PutAsync($"/v1/sessions/{pinned}/pin", null)).Status.ShouldBe(HttpStatusCode.NoContent); // again: the same pin

        (await alice.GetAsync($"/v1/sessions/{pinned}")).Object["is_pinned"]!.GetValue<bool>().ShouldBeTrue();
        (await alice.GetAsync($"/v1/sessions/{other}")).Object["is_pinned"]!.GetValue<bool>().ShouldBeFalse();
        (await bob.GetAsync($"/v1/sessions/{pinned}")).Object["is_pinned"]!.GetValue<bool>().ShouldBeFalse(); // alice's pin, not bob's

        var list = (await alice.GetAsync("/v1/sessions")).Object["data"]!.AsArray();
        list.Single(s => (string)s!["id"]! == pinned)!["is_pinned"]!.GetValue<bool>().ShouldBeTrue();
        list.Single(s => (string)s!["id"]! == other)!["is_pinned"]!.GetValue<bool>().ShouldBeFalse();
        (await alice.GetAsync("/v1/sessions?pinned=true")).Object["data"]!.AsArray().Select(s => (string)s!["id"]!).ShouldBe([pinned]);
        (await alice.GetAsync("/v1/sessions?pinned=false")).Object["data"]!.AsArray().Select(s => (string)s!["id"]!).ShouldBe([other]);
        (await bob.GetAsync("/v1/sessions?pinned=true")).Object["data"]!.AsArray().ShouldBeEmpty();
        (await alice.GetAsync("/v1/sessions?pinned=maybe")).Status.ShouldBe(HttpStatusCode.BadRequest);

        (await alice.DeleteAsync($"/v1/sessions/{pinned}/pin")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await alice.DeleteAsync($"/v1/sessions/{pinned}/pin")).Status.ShouldBe(HttpStatusCode.NoContent); // not pinned: still 204
        (await alice.GetAsync($"/v1/sessions/{pinned}")).Object["is_pinned"]!.GetValue<bool>().ShouldBeFalse();

        // Only sessions of the org: another org's (the default org's) is not found; nor is a deleted one, whose pins go.
        var foreign = (string)(await app.Api.CreateSessionAsync())["id"]!;
        (await alice.PutAsync($"/v1/sessions/{foreign}/pin", null)).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
        (await alice.PutAsync("/v1/sessions/session_nope/pin", null)).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_session_id");
        (await bob.PutAsync($"/v1/sessions/{other}/pin", null)).Status.ShouldBe(HttpStatusCode.NoContent);
        (await alice.DeleteAsync($"/v1/sessions/{other}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await bob.PutAsync($"/v1/sessions/{other}/pin", null)).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
        (await bob.DeleteAsync($"/v1/sessions/{other}/pin")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
        (await bob.GetAsync("/v1/sessions?pinned=true")).Object["data"]!.AsArray().ShouldBeEmpty();
    }
}

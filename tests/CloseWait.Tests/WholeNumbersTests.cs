using System.Management.Automation;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>The one number reading shared by [WholeNumber] parameters and rebuilt connection records.</summary>
    public sealed class WholeNumbersTests
    {
        public static TheoryData<object?, bool, decimal> Cases => new TheoryData<object?, bool, decimal>
        {
            { " 8080 ", true, 8080m },
            { "-4", true, -4m },
            { "5.5", false, 0m },
            { "0x50", false, 0m },
            { "1e3", false, 0m },
            { "1,000", false, 0m },
            { "", false, 0m },
            { 8080, true, 8080m },
            { ulong.MaxValue, true, 18446744073709551615m },
            { 5.5d, true, 5.5m },
            { 80f, true, 80m },
            { double.NaN, false, 0m },
            { double.PositiveInfinity, false, 0m },
            { 1e25d, false, 0m },
            { null, false, 0m },
            { new object(), false, 0m },
        };

        [Theory]
        [MemberData(nameof(Cases))]
        public void ReadsNumbersAndInvariantTextOnly(object? value, bool expected, decimal number)
        {
            Assert.Equal(expected, WholeNumbers.TryRead(value, out decimal read));
            Assert.Equal(number, read);
        }

        [Fact]
        public void ReadsThroughAPSObjectWrapper()
        {
            var wrapped = PSObject.AsPSObject(443);
            Assert.True(WholeNumbers.TryRead(wrapped, out decimal read), $"base {wrapped.BaseObject?.GetType()}");
            Assert.Equal(443m, read);
        }
    }
}
